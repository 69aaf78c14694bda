"""Read queries for candidates (no writes here)."""
from __future__ import annotations

from django.db.models import QuerySet

from vetting.candidates.models import Candidate


def candidate_list(*, mission: str | None = None, disposition: str | None = None) -> QuerySet[Candidate]:
    """Candidates with their target, newest first, optionally filtered."""
    qs = Candidate.objects.with_target().defer("global_view", "local_view", "plot_payload")
    if mission:
        qs = qs.filter(target__mission=mission)
    if disposition:
        qs = qs.filter(catalog_disposition=disposition)
    return qs


def candidates_missing_views() -> QuerySet[Candidate]:
    """Real (not simulated) candidates with a complete ephemeris but no stored views, oldest first."""
    return (
        Candidate.objects.with_target()
        .filter(global_view__isnull=True, period_days__isnull=False, epoch__isnull=False, duration_hours__isnull=False)
        .exclude(source_catalog="simulated")
        .order_by("created_at", "id")
    )
