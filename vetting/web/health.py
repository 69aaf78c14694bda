"""Health checks: database, Celery broker, workers, the last training run and import, stuck
jobs and queue depths.

Every check is timed and reports ``{"ok", "detail", "ms"}``; a failing check never raises, so
``/health/`` answers even when the database or the broker is down (and says which).

Who sees what (:func:`health_response`): anyone gets ``{"status": "ok"|"fail"}`` (a load
balancer or uptime probe needs no more); staff users (``is_staff``, signed in) get every check's
detail too: worker names, queue sizes, error texts and job ids are not for the public.
The HTTP status is 200 while the database answers (the site can serve pages) and 503 otherwise.
"""
from __future__ import annotations

import time

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse

from vetting.core import liveness


def _timed(check) -> dict:
    started = time.perf_counter()
    try:
        detail = check()
        ok = True
    except Exception as exc:  # a health check reports failures, it never raises
        detail, ok = f"{type(exc).__name__}: {exc}", False
    return {"ok": ok, "detail": detail, "ms": round(1000 * (time.perf_counter() - started), 1)}


def check_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return connection.vendor


def check_broker() -> str:
    import redis

    client = redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_connect_timeout=1, socket_timeout=1)
    client.ping()
    return "redis"


def check_workers() -> list[str]:
    from celery import current_app as app  # the project app (vetting/__init__.py makes it current)

    replies = app.control.ping(timeout=1.0) or []
    names = sorted(name for reply in replies for name in reply)
    if not names:
        raise RuntimeError("no Celery worker answered")
    return names


#: Celery queues the site uses (see ``CELERY_TASK_ROUTES``).
CELERY_QUEUES = ("default", "training", "imports")
#: kombu's Redis transport keeps one list per priority step: "name", "name\x06\x163", ...
_PRIORITY_SUFFIXES = ("", "\x06\x163", "\x06\x166", "\x06\x169")


def check_training() -> dict:
    """The last training run (state, when, error) and how many runs wait in the queued state.

    ``ok`` is False only when the last run failed: the site still works, but someone should look.
    """
    from vetting.learning.models import TrainingRun

    last = TrainingRun.objects.order_by("-created_at", "-id").first()
    queued = TrainingRun.objects.filter(state=TrainingRun.State.QUEUED).count()
    if last is None:
        return {"last_run": None, "queued_runs": queued}
    detail = {
        "last_run": {
            "id": last.pk, "state": last.state, "trigger": last.trigger, "progress": last.progress,
            "message": last.message, "created_at": last.created_at.isoformat(),
            "finished_at": last.finished_at.isoformat() if last.finished_at else None,
            "error": (last.error or "")[:300],
        },
        "queued_runs": queued,
    }
    if last.state == TrainingRun.State.FAILED:
        raise _Degraded(detail)
    return detail


def check_imports() -> dict:
    """The last import job (state, when, first errors), for staff to diagnose. Informational:
    a failed import is usually a bad file (the job says why), not a fault of the site; a job
    lost by its worker shows in :func:`check_jobs`."""
    from vetting.candidates.models import ImportJob

    last = ImportJob.objects.order_by("-created_at", "-id").first()
    if last is None:
        return {"last_import": None}
    detail = {"last_import": {
        "id": last.pk, "kind": last.kind, "state": last.state, "created_at": last.created_at.isoformat(),
        "finished_at": last.finished_at.isoformat() if last.finished_at else None,
        "message": last.message, "errors": [str(e)[:300] for e in (last.errors or [])[:3]],
    }}
    return detail


def check_jobs() -> dict:
    """Stuck jobs (:func:`vetting.core.liveness.stuck`) of both kinds: running without a heartbeat
    (a dead worker the recovery task has not handled yet) or queued longer than
    ``VETTING_QUEUED_STUCK_AFTER_S`` (no worker consumes, or the broker lost them); ``ok`` is
    False if there is any."""
    from vetting.candidates.models import ImportJob
    from vetting.learning.models import TrainingRun

    queued_after = float(settings.VETTING_QUEUED_STUCK_AFTER_S)
    detail = {
        "imports": liveness.stuck(ImportJob.objects.all(), queued_after_s=queued_after,
                                  stale_after_s=float(settings.VETTING_IMPORT_STALE_AFTER_S)),
        "training_runs": liveness.stuck(TrainingRun.objects.all(), queued_after_s=queued_after,
                                        stale_after_s=float(settings.VETTING_TRAINING_STALE_AFTER_S)),
    }
    if any(part["running_without_heartbeat"] or part["queued_too_long"] for part in detail.values()):
        raise _Degraded(detail)
    return detail


def check_queue() -> dict:
    """Vetting-queue depth (active-learning entries) and, by strategy, the re-vet backlog."""
    from django.db.models import Count

    from vetting.learning.models import QueueEntry

    by_strategy = dict(QueueEntry.objects.values_list("strategy").annotate(n=Count("pk")).order_by())
    return {"depth": sum(by_strategy.values()), "by_strategy": by_strategy}


def check_broker_queues() -> dict:
    """Messages waiting in each Celery queue on the broker (a growing number: workers lag)."""
    import redis

    prefix = (getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {}) or {}).get("global_keyprefix", "")
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_connect_timeout=1, socket_timeout=1)
    pipe = client.pipeline()
    for queue in CELERY_QUEUES:
        for suffix in _PRIORITY_SUFFIXES:
            pipe.llen(f"{prefix}{queue}{suffix}")
    lengths = pipe.execute()
    step = len(_PRIORITY_SUFFIXES)
    return {queue: sum(lengths[i * step:(i + 1) * step]) for i, queue in enumerate(CELERY_QUEUES)}


class _Degraded(Exception):
    """A check that answered but found something wrong: carries its detail."""

    def __init__(self, detail):
        super().__init__("degraded")
        self.detail = detail


def _timed_detail(check) -> dict:
    """Like ``_timed`` but a ``_Degraded`` check keeps its structured detail."""
    started = time.perf_counter()
    try:
        detail, ok = check(), True
    except _Degraded as exc:
        detail, ok = exc.detail, False
    except Exception as exc:  # a health check reports failures, it never raises
        detail, ok = f"{type(exc).__name__}: {exc}", False
    return {"ok": ok, "detail": detail, "ms": round(1000 * (time.perf_counter() - started), 1)}


def run_checks(include_workers: bool = True) -> dict:
    """Run every check; ``status`` is ok, degraded (broker/workers/training) or down (database)."""
    report = {"database": _timed(check_database), "broker": _timed(check_broker)}
    if include_workers and report["broker"]["ok"]:
        report["workers"] = _timed(check_workers)
    else:
        report["workers"] = {"ok": False, "detail": "broker unreachable", "ms": 0.0}
    database_checks = {"training": check_training, "imports": check_imports, "jobs": check_jobs,
                       "queue": check_queue}
    for name, check in database_checks.items():
        if report["database"]["ok"]:
            report[name] = _timed_detail(check)
        else:
            report[name] = {"ok": False, "detail": "database unreachable", "ms": 0.0}
    if report["broker"]["ok"]:
        report["broker_queues"] = _timed_detail(check_broker_queues)
    else:
        report["broker_queues"] = {"ok": False, "detail": "broker unreachable", "ms": 0.0}
    if not report["database"]["ok"]:
        report["status"] = "down"
    elif all(part["ok"] for part in report.values() if isinstance(part, dict)):
        report["status"] = "ok"
    else:
        report["status"] = "degraded"
    return report


def _is_staff(request: HttpRequest) -> bool:
    """True for a signed-in staff user; False if the session or user cannot be read (the
    database may be what is down: the probe must still answer)."""
    try:
        user = request.user
        return bool(user.is_authenticated and user.is_staff)
    except Exception:  # a health check reports failures, it never raises
        return False


def health_response(request: HttpRequest) -> JsonResponse:
    """``/health/``: ``{"status": "ok"|"fail"}`` for anyone; staff also get ``"level"`` (ok,
    degraded or down) and every check's detail. 200 while the database answers, else 503."""
    report = run_checks()
    status = 200 if report["database"]["ok"] else 503
    summary = "ok" if report["status"] == "ok" else "fail"
    body = {"status": summary}
    if _is_staff(request):
        body.update({**report, "status": summary, "level": report["status"]})
    response = JsonResponse(body, status=status)
    response["Cache-Control"] = "no-store"
    return response
