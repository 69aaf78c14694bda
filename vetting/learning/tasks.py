"""Thin Celery tasks of the learning app: they take ids and call ``vetting.learning.services``.

All run on the "training" queue (also routed there by ``CELERY_TASK_ROUTES``), ack late and
are redelivered when the worker is lost; services make them idempotent (a run is claimed with
a conditional UPDATE; predictions are upserted under a unique constraint). Each task's name is
fixed: services send tasks by that name (``vetting.core.jobs``) and never import this module.
"""
from __future__ import annotations

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded

from vetting.core.jobs import TRANSIENT_ERRORS


@shared_task(
    name="vetting.learning.tasks.run_training",
    bind=True, queue="training", acks_late=True, reject_on_worker_lost=True,
    soft_time_limit=1800, time_limit=1900, max_retries=20,
)
def run_training(self, run_id: int) -> str:
    """Claim queued run ``run_id`` and retrain; returns the run's final state.

    If another run holds the lock the task retries later (countdown); a redelivered task
    whose run is already finished/failed/running elsewhere does nothing.
    """
    from vetting.learning.services import runs

    try:
        outcome = runs.training_run_execute(run_id=run_id, task_id=self.request.id or "")
    except SoftTimeLimitExceeded:
        runs.training_run_fail(run_id=run_id, error="time limit exceeded (soft_time_limit)")
        raise
    except TRANSIENT_ERRORS as exc:
        raise self.retry(exc=exc, countdown=min(300, 10 * 2 ** self.request.retries)) from exc
    if outcome == runs.BUSY:
        # Another run holds the one-running lock: try again once it is likely done.
        raise self.retry(countdown=30, max_retries=None)
    return outcome


@shared_task(
    name="vetting.learning.tasks.score_chunk",
    bind=True, queue="training", acks_late=True, reject_on_worker_lost=True,
    soft_time_limit=600, time_limit=660, max_retries=5,
)
def score_chunk(self, version_id: int, candidate_ids: list[int]) -> int:
    """Score a chunk of candidates with a classifier version and upsert predictions; returns count."""
    from vetting.learning.services.rescoring import predictions_upsert_chunk

    try:
        return predictions_upsert_chunk(version_id=version_id, candidate_ids=candidate_ids)
    except TRANSIENT_ERRORS as exc:
        raise self.retry(exc=exc, countdown=10 * 2 ** self.request.retries) from exc


@shared_task(
    name="vetting.learning.tasks.rescore_finish",
    bind=True, queue="training", acks_late=True, reject_on_worker_lost=True,
    soft_time_limit=600, time_limit=660, max_retries=5,
)
def rescore_finish(self, results: list[int] | None, version_id: int, run_id: int | None = None) -> int:
    """Chord callback after all ``score_chunk`` tasks: rebuild the queue from the new predictions."""
    from vetting.learning.services.rescoring import rescore_finish as finish

    try:
        return finish(version_id=version_id, run_id=run_id)
    except TRANSIENT_ERRORS as exc:
        raise self.retry(exc=exc, countdown=10 * 2 ** self.request.retries) from exc


@shared_task(name="vetting.learning.tasks.retrain_if_due", queue="training", acks_late=True,
             soft_time_limit=60, time_limit=90)
def retrain_if_due() -> int | None:
    """Beat: request a run if enough new consensus labels arrived; re-send lost queued runs."""
    from vetting.learning.services.runs import retrain_if_due as request_if_due

    run = request_if_due()
    return run.pk if run else None


@shared_task(name="vetting.learning.tasks.recover_stale_runs", queue="training", acks_late=True,
             soft_time_limit=60, time_limit=90)
def recover_stale_runs() -> int:
    """Beat: fail runs whose heartbeat stopped (dead worker) and request a follow-up; returns count."""
    from vetting.learning.services.runs import recover_stale_runs as recover

    return recover()


@shared_task(name="vetting.learning.tasks.queue_rebuild", queue="training", acks_late=True,
             soft_time_limit=300, time_limit=330)
def queue_rebuild() -> int:
    """Rebuild the vetting queue from the active version (after curators changed the mix)."""
    from vetting.learning.services.queue import queue_rebuild as rebuild

    return rebuild()


@shared_task(name="vetting.learning.tasks.reproduce_version", bind=True, queue="training", acks_late=True,
             reject_on_worker_lost=True, soft_time_limit=1800, time_limit=1900, max_retries=5)
def reproduce_version(self, version_id: int) -> str:
    """Refit a classifier version from its stored label snapshot and record whether the
    predictions match ("Reproduce this model"); returns the job's final state."""
    from vetting.learning.services.modelcard import reproduce_execute

    try:
        return reproduce_execute(version_id=version_id)["state"]
    except TRANSIENT_ERRORS as exc:
        raise self.retry(exc=exc, countdown=10 * 2 ** self.request.retries) from exc
