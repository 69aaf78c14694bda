"""Celery tasks for imports: thin, take ids, import the service inside (queue "imports").

Services send these by name (``vetting.core.jobs``) and never import this module.
"""
from __future__ import annotations

from celery import shared_task


@shared_task(name="vetting.candidates.tasks.import_job_run", acks_late=True, queue="imports",
             soft_time_limit=3300, time_limit=3600)
def import_job_run(job_id: int) -> str:
    """Run :func:`vetting.candidates.services.import_job_run`; idempotent (claims the row)."""
    from vetting.candidates import services

    job = services.import_job_run(job_id=job_id)
    return job.state
