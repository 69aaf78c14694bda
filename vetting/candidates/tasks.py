"""Celery tasks for imports: thin, take ids, import the service inside (queue "imports").

Services send these by name (``vetting.core.jobs``, Celery signatures) and never import this
module. ``import_job_run`` plans a job and sends a chord of ``import_chunk_run`` (one per chunk,
spread over every worker process on the ``imports`` queue) with ``import_job_finish`` as its final
step (:mod:`vetting.candidates.import_jobs`). Every task acks late and is redelivered when its
worker is lost; the claims (conditional UPDATEs) make a redelivery harmless, and the beat task
``import_jobs_recover`` re-queues a job or chunk whose worker died (see README, "Recovery").
"""
from __future__ import annotations

from celery import shared_task


@shared_task(name="vetting.candidates.tasks.import_job_run", bind=True, acks_late=True,
             reject_on_worker_lost=True, queue="imports", soft_time_limit=3300, time_limit=3600)
def import_job_run(self, job_id: int) -> str:
    """Plan a job into chunks and send them as a chord (:func:`vetting.candidates.services.import_job_run`);
    idempotent (claims the row)."""
    from vetting.candidates import services

    job = services.import_job_run(job_id=job_id, task_id=self.request.id or "", fan_out=True)
    return job.state


@shared_task(name="vetting.candidates.tasks.import_chunk_run", bind=True, acks_late=True,
             reject_on_worker_lost=True, queue="imports", soft_time_limit=3300, time_limit=3600)
def import_chunk_run(self, chunk_id: int) -> str:
    """Run one chunk (:func:`vetting.candidates.services.import_chunk_run`); idempotent (claims the
    row). The chunk that ends last ends its job (also when it was re-sent by recovery, outside
    the chord whose final step would otherwise never run)."""
    from vetting.candidates import services

    return services.import_chunk_run(chunk_id=chunk_id, task_id=self.request.id or "",
                                     worker=self.request.hostname or "").state


@shared_task(name="vetting.candidates.tasks.import_job_finish", bind=True, acks_late=True,
             reject_on_worker_lost=True, queue="imports", soft_time_limit=300, time_limit=360)
def import_job_finish(self, results: list | None, job_id: int) -> str:
    """Chord callback after every chunk: sum the chunks into the job (idempotent)."""
    from vetting.candidates import services

    return services.import_job_finish(job_id=job_id).state


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
