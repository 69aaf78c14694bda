"""Writes of the learning app: training-run requests, the retrain itself, rescoring, queue.

Tasks, views, the API, the admin and the ``retrain`` command call these functions; the logic
lives here and in ``classifier`` (Django-free). Each public function is keyword-only.
"""
from __future__ import annotations

import logging

from django.db import transaction

from vetting.learning.models import TrainingRun

logger = logging.getLogger(__name__)


def _enqueue_run(run_id: int) -> None:
    """Publish ``run_training`` for a run; a dead broker is logged, never raised.

    The row stays queued and the periodic ``retrain_if_due`` task re-sends queued runs whose
    task never started, so a broker outage loses nothing.
    """
    from vetting.learning.tasks import run_training

    try:
        result = run_training.apply_async(args=[run_id], retry=False)
    except Exception as exc:  # kombu/redis raise many types; the request must not fail.
        logger.warning("training run %s stays queued: broker publish failed: %s", run_id, exc)
        return
    TrainingRun.objects.filter(pk=run_id, state=TrainingRun.State.QUEUED).update(task_id=result.id or "")


@transaction.atomic
def training_run_request(*, trigger: str, requested_by=None) -> TrainingRun:
    """Ask for a retrain; returns the queued run (existing or new).

    Coalescing: while a queued run exists every request returns it (requests made while a run
    is running coalesce into that single follow-up run). Otherwise a queued run is created and
    ``run_training`` is enqueued after commit. A broker outage does not fail the request.
    """
    if trigger not in TrainingRun.Trigger.values:
        raise ValueError(f"unknown trigger {trigger!r}; expected one of {sorted(TrainingRun.Trigger.values)}")
    # Serialise concurrent requests so two callers never create two queued runs.
    _advisory_lock("training_run_request")
    existing = TrainingRun.objects.filter(state=TrainingRun.State.QUEUED).order_by("created_at").first()
    if existing is not None:
        return existing
    run = TrainingRun(trigger=trigger, requested_by=requested_by, state=TrainingRun.State.QUEUED)
    run.full_clean()
    run.save()
    transaction.on_commit(lambda: _enqueue_run(run.pk))
    return run


def _advisory_lock(name: str) -> None:
    """Transaction-scoped PostgreSQL advisory lock (no-op on other databases)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"vetting.learning.{name}"])


# --- Curation: send candidates back to the vetting queue (added for the admin) ---------------
#: Strategy name of queue entries a curator put back for re-vetting.
REVET_STRATEGY = "re-vet"


@transaction.atomic
def queue_requeue(*, candidate_ids: list[int], reason: str = "") -> int:
    """Put candidates at the head of the vetting queue for re-vetting; returns how many.

    Creates or updates one ``QueueEntry`` per candidate with strategy ``"re-vet"`` and a
    priority above every current entry, so vetters see them next. Unknown ids are skipped.
    Idempotent: requeueing twice keeps one entry per candidate (``candidate`` is unique).
    """
    from django.db.models import Max

    from vetting.candidates.models import Candidate
    from vetting.learning.models import QueueEntry

    ids = sorted(set(Candidate.objects.filter(pk__in=list(candidate_ids)).values_list("pk", flat=True)))
    if not ids:
        return 0
    _advisory_lock("queue")
    top = QueueEntry.objects.aggregate(top=Max("priority"))["top"] or 0.0
    for pk in ids:
        QueueEntry.objects.update_or_create(
            candidate_id=pk,
            defaults={"priority": top + 1.0, "strategy": REVET_STRATEGY, "classifier_version": None},
        )
    logger.info(
        "candidates requeued for re-vetting",
        extra={"event": "queue_requeue", "n_candidates": len(ids), "reason": reason[:200]},
    )
    return len(ids)
