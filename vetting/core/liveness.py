"""Liveness of long jobs kept as rows (``TrainingRun``, ``ImportJob``): the one recovery machinery.

A job row has ``state`` (``queued`` -> ``running`` -> ``finished``/``failed``), ``task_id``
(empty until the broker accepted its message), ``created_at``, ``started_at`` and
``heartbeat_at``. Three faults lose such a job unless something looks:

* the broker was unreachable when the job was accepted: the row is ``queued`` with no task id
  and no worker will ever see it -> :func:`resend_queued` (a beat task) publishes it again;
* the worker died mid-job: the row is ``running`` and its heartbeat stops ->
  :func:`stale_running` finds it; the owning app decides (fail it, or re-queue it: imports are
  idempotent) and a :class:`Heartbeat` thread keeps a healthy job's row fresh meanwhile;
* nothing consumes a queue: rows wait ``queued`` for long -> :func:`stuck` (``/health/``).

Every function takes the job's QuerySet or model, so this bottom-layer module imports no app.
Re-sending is safe because every job task claims its row with a conditional UPDATE: a
duplicate message finds the row no longer ``queued`` and does nothing.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from django.db import connection
from django.db.models import F, Model, QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone

from vetting.core import jobs

logger = logging.getLogger(__name__)

QUEUED, RUNNING = "queued", "running"


def now() -> datetime:
    return timezone.now()


def last_sign_of_life(row) -> datetime:
    """When ``row`` was last known alive: its heartbeat, else its start, else its creation."""
    return row.heartbeat_at or row.started_at or row.created_at


def is_stale(row, stale_after_s: float) -> bool:
    """True when ``row``'s last sign of life is older than ``stale_after_s`` seconds."""
    return last_sign_of_life(row) < now() - timedelta(seconds=stale_after_s)


def stale_running(queryset: QuerySet, stale_after_s: float) -> QuerySet:
    """Rows of ``queryset`` that are ``running`` with no sign of life for ``stale_after_s`` s
    (their worker is gone), oldest first."""
    cutoff = now() - timedelta(seconds=stale_after_s)
    return (queryset.filter(state=RUNNING)
            .alias(alive_at=Coalesce("heartbeat_at", "started_at", "created_at"))
            .filter(alive_at__lt=cutoff).order_by("created_at", "pk"))


def queued_since(queryset: QuerySet, older_than_s: float) -> QuerySet:
    """Rows of ``queryset`` queued for more than ``older_than_s`` seconds, oldest first."""
    cutoff = now() - timedelta(seconds=older_than_s)
    return queryset.filter(state=QUEUED, created_at__lt=cutoff).order_by("created_at", "pk")


def unsent(queryset: QuerySet) -> QuerySet:
    """Queued rows whose task was never accepted by the broker (no task id)."""
    return queryset.filter(state=QUEUED, task_id="")


def resend_queued(queryset: QuerySet, task_name: str, *, older_than_s: float, only_unsent: bool = True) -> int:
    """Publish ``task_name(pk)`` again for queued rows older than ``older_than_s`` seconds.

    ``only_unsent`` (default) limits this to rows the broker never accepted (no task id): a row
    with a task id waits its turn in the queue and needs no second message. The task id of
    each published message is stored on its row (still queued); a broker that is still down
    leaves the row as it was for the next try. Returns how many messages were published.
    """
    rows = queued_since(queryset, older_than_s)
    if only_unsent:
        rows = unsent(rows)
    sent = 0
    for pk in list(rows.values_list("pk", flat=True)):
        task_id = jobs.send(task_name, pk)
        if task_id is None:
            break  # the broker is still down: the next beat tries again
        queryset.model.objects.filter(pk=pk, state=QUEUED).update(task_id=task_id[:64])
        sent += 1
    if sent:
        logger.warning("re-sent %s queued %s job(s) the broker had not accepted", sent, queryset.model.__name__)
    return sent


def stuck(queryset: QuerySet, *, stale_after_s: float, queued_after_s: float, limit: int = 10) -> dict:
    """Jobs that need a person or the recovery task: ``{"running_without_heartbeat": [ids],
    "queued_too_long": [ids], "unsent": n}`` (ids oldest first, at most ``limit`` each).

    3 queries. ``unsent`` counts queued rows the broker has not accepted yet (any age).
    """
    return {
        "running_without_heartbeat": list(stale_running(queryset, stale_after_s).values_list("pk", flat=True)[:limit]),
        "queued_too_long": list(queued_since(queryset, queued_after_s).values_list("pk", flat=True)[:limit]),
        "unsent": unsent(queryset).count(),
    }


def claim(queryset: QuerySet, *, task_id: str = "", **fields) -> bool:
    """Conditional UPDATE ``queued -> running`` of the one row in ``queryset``; True if this
    caller won it (a redelivered or duplicate message gets False and must do nothing).

    Sets ``started_at``/``heartbeat_at`` to now, ``attempts`` + 1, ``task_id`` and ``fields``.
    """
    stamp = now()
    values = {"state": RUNNING, "started_at": stamp, "heartbeat_at": stamp, "attempts": F("attempts") + 1, **fields}
    if task_id:
        values["task_id"] = task_id[:64]
    return bool(queryset.filter(state=QUEUED).update(**values))


class Heartbeat:
    """Refresh ``heartbeat_at`` of a running row every ``every_s`` seconds from a daemon thread.

    Long steps (a fit, a big file) make no progress updates; the thread keeps the row visibly
    alive. If the process dies, the thread dies with it and the heartbeat goes stale, which is
    how :func:`stale_running` tells a dead worker from a slow one.

    Parameters
    ----------
    model : the job's model class (a ``state`` and a ``heartbeat_at`` field).
    pk : the row's primary key.
    every_s : seconds between beats (a callable is read before each beat, e.g. a setting).
    """

    def __init__(self, model: type[Model], pk: int, every_s: float | Callable[[], float]):
        self.model, self.pk = model, pk
        self._every = every_s if callable(every_s) else (lambda: float(every_s))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"heartbeat-{model.__name__}-{pk}", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def beat(self) -> int:
        """One heartbeat now; returns 1 if the row is still running, else 0."""
        return self.model.objects.filter(pk=self.pk, state=RUNNING).update(heartbeat_at=now())

    def _loop(self) -> None:
        try:
            while not self._stop.wait(self._every()):
                try:
                    self.beat()
                except Exception:  # a missed beat is not fatal; the next one may succeed
                    logger.exception("heartbeat of %s %s failed", self.model.__name__, self.pk)
        finally:
            connection.close()  # this thread's own connection



def was_sent(row) -> bool:
    """False while ``row`` is queued and the broker has not accepted its task (no task id)."""
    return row.state != QUEUED or bool(row.task_id)


def status_message(row, message: str) -> str:
    """``message``, or :data:`vetting.core.jobs.NOT_SENT_MESSAGE` while ``row`` is unsent: the
    one wording of a 202 body and a progress box for work that could not be sent yet."""
    return message if was_sent(row) else jobs.NOT_SENT_MESSAGE
