"""Thin Celery tasks for reviews: they take ids and call a service."""
from __future__ import annotations

from celery import shared_task


@shared_task(acks_late=True, time_limit=300, soft_time_limit=240, queue="default")
def consensus_recompute(candidate_ids: list[int]) -> int:
    """Recompute the consensus of the given candidates (after bulk edits); returns how many."""
    from vetting.reviews.services import consensus_recompute_many

    return consensus_recompute_many(candidate_ids=candidate_ids)
