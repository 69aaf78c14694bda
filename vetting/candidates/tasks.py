"""Celery tasks for imports: thin, take ids, import the service inside (queue "imports").

Services send these by name (``vetting.core.jobs``) and never import this module. The job task
acks late and is redelivered when its worker is lost; the claim in
:func:`vetting.candidates.services.import_job_run` makes a redelivery harmless, and the beat task
``import_jobs_recover`` re-queues a job whose worker died (see README, "Recovery").
"""
from __future__ import annotations

from celery import shared_task


@shared_task(name="vetting.candidates.tasks.import_job_run", bind=True, acks_late=True,
             reject_on_worker_lost=True, queue="imports", soft_time_limit=3300, time_limit=3600)
def import_job_run(self, job_id: int) -> str:
    """Run :func:`vetting.candidates.services.import_job_run`; idempotent (claims the row)."""
    from vetting.candidates import services

    job = services.import_job_run(job_id=job_id, task_id=self.request.id or "")
    return job.state


@shared_task(name="vetting.candidates.tasks.import_jobs_recover", acks_late=True, queue="imports",
             soft_time_limit=60, time_limit=90)
def import_jobs_recover() -> dict:
    """Beat: re-queue or fail jobs whose worker died; re-send jobs the broker never accepted."""
    from vetting.candidates import services

    return services.import_jobs_recover()


@shared_task(name="vetting.candidates.tasks.import_uploads_purge", acks_late=True, queue="imports",
             soft_time_limit=300, time_limit=360)
def import_uploads_purge() -> dict:
    """Beat: delete uploaded files of ended import jobs past their retention time."""
    from vetting.candidates import services

    return services.import_uploads_purge()
