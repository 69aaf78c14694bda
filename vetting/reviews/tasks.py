"""Thin Celery tasks of the reviews app: they call ``vetting.reviews.services``.

Beat sends :func:`refit_reliability` every ``VETTING_RELIABILITY_REFIT_S`` seconds (on the
"training" queue: it is CPU work like a retrain, never on a web process). The fit is idempotent:
refitting twice stores two equal fits, and the consensus it recomputes is a pure function of the
labels and the newest fit.
"""
from __future__ import annotations

from celery import shared_task

from vetting.core.jobs import TRANSIENT_ERRORS


@shared_task(name="vetting.reviews.tasks.refit_reliability", bind=True, queue="training", acks_late=True,
             soft_time_limit=900, time_limit=960, max_retries=3)
def refit_reliability(self) -> dict:
    """Refit every vetter's confusion matrix and recompute the consensus under it."""
    from vetting.reviews import services

    try:
        services.assignments_expired_purge()
        return services.reliability_refit()
    except TRANSIENT_ERRORS as exc:
        raise self.retry(exc=exc, countdown=60) from exc
