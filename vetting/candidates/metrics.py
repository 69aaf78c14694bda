"""Prometheus collectors of the candidates app: import jobs.

Registered in :meth:`vetting.candidates.apps.CandidatesConfig.ready`; read from the database at
scrape time (see :mod:`vetting.core.metrics` for why), one aggregate query each.
"""
from __future__ import annotations

from django.conf import settings

from vetting.core import metrics


def import_job_families():
    """Import jobs by state, failures, durations (histogram) and liveness."""
    from vetting.candidates.models import ImportJob

    return metrics.job_families(
        "vetting_import_jobs", ImportJob, what="import jobs",
        stale_after_s=float(settings.VETTING_IMPORT_STALE_AFTER_S),
        queued_after_s=float(settings.VETTING_QUEUED_STUCK_AFTER_S))


def register() -> None:
    metrics.register("import_jobs", import_job_families)
