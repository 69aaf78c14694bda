"""Read queries for candidates (no writes here)."""
from __future__ import annotations

from django.db.models import QuerySet

from vetting.candidates.models import Candidate, ImportJob
from vetting.core.progress import progress_body


def candidates_missing_views() -> QuerySet[Candidate]:
    """Real (not simulated) candidates with a complete ephemeris but no stored views, oldest first."""
    return (
        Candidate.objects.with_target()
        .filter(global_view__isnull=True, period_days__isnull=False, epoch__isnull=False, duration_hours__isnull=False)
        .exclude(source_catalog="simulated")
        .order_by("created_at", "id")
    )


def import_job_progress(job: ImportJob) -> dict:
    """JSON-ready progress of one import job, in the shape every progress bar polls (``kind``,
    ``state``, ``progress`` 0..1, ``message``, ``done``) plus its counts and number of errors."""
    errors = job.errors or []
    message = f"{job.get_kind_display()}: {job.state}"
    if errors:
        message += f", {len(errors)} error(s)"
    return progress_body(kind="import", pk=job.pk, state=job.state, progress=job.progress, message=message,
                         counts=job.counts or {}, n_errors=len(errors))
