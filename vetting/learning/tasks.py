"""Thin Celery tasks of the learning app: they take ids and call ``vetting.learning.services``.

All run on the "training" queue (also routed there by ``CELERY_TASK_ROUTES``), ack late and
are redelivered when the worker is lost; services make them idempotent (a run is claimed with
a conditional UPDATE; predictions are upserted under a unique constraint).
"""
from __future__ import annotations

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded

#: Errors worth retrying: the database or broker was briefly unreachable.
TRANSIENT_ERRORS: tuple[type[BaseException], ...]
try:
    from django.db import InterfaceError, OperationalError

    TRANSIENT_ERRORS = (OperationalError, InterfaceError, ConnectionError, TimeoutError)
except Exception:  # pragma: no cover - Django is always installed here
    TRANSIENT_ERRORS = (ConnectionError, TimeoutError)


@shared_task(
    bind=True, queue="training", acks_late=True, reject_on_worker_lost=True,
    soft_time_limit=1800, time_limit=1900, max_retries=20,
)
def run_training(self, run_id: int) -> str:
    """Claim queued run ``run_id`` and retrain; returns the run's final state.

    If another run holds the lock the task retries later (countdown); a redelivered task
    whose run is already finished/failed/running elsewhere does nothing.
    """
    from vetting.learning import services

    try:
        outcome = services.training_run_execute(run_id=run_id, task_id=self.request.id or "")
    except SoftTimeLimitExceeded:
        services.training_run_fail(run_id=run_id, error="time limit exceeded (soft_time_limit)")
        raise
    except TRANSIENT_ERRORS as exc:
        raise self.retry(exc=exc, countdown=min(300, 10 * 2 ** self.request.retries))
    if outcome == services.BUSY:
        # Another run holds the one-running lock: try again once it is likely done.
        raise self.retry(countdown=30, max_retries=None)
    return outcome


@shared_task(
    bind=True, queue="training", acks_late=True, reject_on_worker_lost=True,
    soft_time_limit=600, time_limit=660, max_retries=5,
)
def score_chunk(self, version_id: int, candidate_ids: list[int]) -> int:
    """Score a chunk of candidates with a classifier version and upsert predictions; returns count."""
    from vetting.learning import services

    try:
        return services.predictions_upsert_chunk(version_id=version_id, candidate_ids=candidate_ids)
    except TRANSIENT_ERRORS as exc:
        raise self.retry(exc=exc, countdown=10 * 2 ** self.request.retries)


@shared_task(
    bind=True, queue="training", acks_late=True, reject_on_worker_lost=True,
    soft_time_limit=600, time_limit=660, max_retries=5,
)
def rescore_finish(self, results: list[int] | None, version_id: int, run_id: int | None = None) -> int:
    """Chord callback after all ``score_chunk`` tasks: rebuild the queue from the new predictions."""
    from vetting.learning import services

    try:
        return services.rescore_finish(version_id=version_id, run_id=run_id)
    except TRANSIENT_ERRORS as exc:
        raise self.retry(exc=exc, countdown=10 * 2 ** self.request.retries)


@shared_task(queue="training", acks_late=True, soft_time_limit=60, time_limit=90)
def retrain_if_due() -> int | None:
    """Beat: request a run if enough new consensus labels arrived; re-send lost queued runs."""
    from vetting.learning import services

    run = services.retrain_if_due()
    return run.pk if run else None


@shared_task(queue="training", acks_late=True, soft_time_limit=60, time_limit=90)
def recover_stale_runs() -> int:
    """Beat: fail runs whose heartbeat stopped (dead worker) and request a follow-up; returns count."""
    from vetting.learning import services

    return services.recover_stale_runs()
