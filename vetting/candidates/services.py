"""Writes for candidates: imports (catalog tables, FITS light curves, view bundles, demo data)
and import jobs. The one code path used by management commands, the API, the admin and tasks.

Public functions (keyword-only):

* :func:`import_catalog_file` - NASA Exoplanet Archive table (KOI, DR24/DR25 TCE, TOI).
* :func:`import_fits_file` - one Kepler/TESS light-curve FITS file; computes candidate views,
  features and plot payload once.
* :func:`import_views_bundle` - Astronet-Triage folder/zip (``candidates.csv`` + ``views.npz``).
* :func:`fetch_lightcurves` - download light curves through the configured source, import them.
* :func:`import_tpf_file` / :func:`fetch_tpfs` - target pixel files (file, or through the
  configured TPF source): pixel-level diagnostics of the star's candidates.
* :func:`load_demo` - simulated demo candidates with light curves (labels: ``reviews.demo``).
* :func:`products_recompute` - rebuild stored features, views and plot payloads from the
  stored light curves (after a vetting metric was added or changed).
* :func:`failed_flags_recompute` - refill the stored failed-flag masks from the stored features
  (after a flag's threshold changed, or on a database older than the mask).
* :func:`import_job_create` / :func:`import_job_run` - an upload as an :class:`ImportJob` row
  (checked by :mod:`vetting.candidates.uploads`), run by the Celery task
  ``vetting.candidates.tasks.import_job_run`` (sent by name after commit: no import of tasks),
  which splits it into :class:`ImportChunk` rows sent as a chord (:func:`import_chunk_run` per
  chunk on any worker process, then :func:`import_job_finish`); see
  :mod:`vetting.candidates.import_jobs`.
* :func:`products_job_create` - a job that recomputes the products of stored light curves in
  chunks over the workers (the light-curve processing of a bulk load).
* :func:`import_jobs_recover` - beat: re-queue (or, after ``VETTING_IMPORT_MAX_ATTEMPTS``, fail)
  running jobs whose worker died, re-send queued jobs the broker never accepted.
* :func:`import_uploads_purge` - beat: delete uploaded files of finished/failed jobs after
  ``VETTING_UPLOAD_RETENTION_DAYS`` / ``VETTING_FAILED_UPLOAD_RETENTION_DAYS``.

Every importer returns an :class:`~vetting.candidates.importers.errors.ImportReport` and raises
:class:`~vetting.candidates.importers.errors.BadFileError` (nothing written) for an unusable file.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from vetting.candidates.importers.errors import ImportReport
from vetting.candidates.models import Candidate, ImportChunk, ImportJob
from vetting.core import liveness

logger = logging.getLogger(__name__)

Progress = Callable[[int, int], None] | None


# --- importers (thin wrappers so callers import one module) ------------------------------------

def import_catalog_file(*, path: str | Path, table: str | None = None, with_catalog_labels: bool = False,
                        progress: Progress = None) -> ImportReport:
    """Import a NASA Exoplanet Archive table (``table`` None = detect it from the columns).

    Bad rows are skipped and listed in ``report.errors`` (line and column); good rows are kept.
    """
    from vetting.candidates.importers.archive import import_archive_table

    return import_archive_table(path=Path(path), table=table, with_catalog_labels=with_catalog_labels,
                                progress=progress)


def import_fits_file(*, path: str | Path, mission: str | None = None, source: str = "fits",
                     original_filename: str = "") -> ImportReport:
    """Import one light-curve FITS file and (re)compute its candidates' views/features/plots."""
    from vetting.candidates.importers.fits import import_fits

    return import_fits(path=Path(path), mission=mission, source=source, original_filename=original_filename)


def import_views_bundle(*, path: str | Path, with_catalog_labels: bool = False,
                        progress: Progress = None) -> ImportReport:
    """Import an Astronet-Triage folder (or .zip) holding ``candidates.csv`` and ``views.npz``."""
    from vetting.candidates.importers.views_bundle import import_views_path

    return import_views_path(path=Path(path), with_catalog_labels=with_catalog_labels, progress=progress)


def import_tpf_file(*, path: str | Path, mission: str | None = None, source: str = "fits",
                    original_filename: str = "") -> ImportReport:
    """Import one target pixel file (Kepler/TESS TPF FITS) and (re)compute the pixel
    diagnostics of its star's candidates (:mod:`vetting.candidates.importers.tpf`)."""
    from vetting.candidates.importers.tpf import import_tpf

    return import_tpf(path=Path(path), mission=mission, source=source, original_filename=original_filename)


def fetch_tpfs(*, candidate: Candidate | int, source=None, **fetch_options) -> ImportReport:
    """Fetch the target pixel files of a candidate's star through the configured TPF source
    (``VETTING_TPF_SOURCE``) and import them."""
    from vetting.candidates.sources import fetch_and_import_tpfs

    if not isinstance(candidate, Candidate):
        candidate = Candidate.objects.select_related("target").get(pk=candidate)
    return fetch_and_import_tpfs(candidate=candidate, source=source, **fetch_options)


def fetch_lightcurves(*, candidate: Candidate | int, source=None, **fetch_options) -> ImportReport:
    """Fetch the light curves of a candidate's target through the configured source and import them."""
    from vetting.candidates.sources import fetch_and_import

    if not isinstance(candidate, Candidate):
        candidate = Candidate.objects.select_related("target").get(pk=candidate)
    return fetch_and_import(candidate=candidate, source=source, **fetch_options)


def load_demo(*, n: int = 2000, seed: int = 42, workers: int | None = None,
              progress: Progress = None) -> ImportReport:
    """Simulated demo candidates (see :mod:`vetting.candidates.importers.demo`); their seed
    labels: :func:`vetting.reviews.demo.load_demo`."""
    from vetting.candidates.importers.demo import load_demo as _load

    return _load(n=n, seed=seed, workers=workers, progress=progress)


def products_recompute(*, candidate_ids: Iterable[int] | None = None, chunk_size: int | None = None,
                       progress: Progress = None) -> ImportReport:
    """Recompute candidates' products from their stored light curves (see
    :mod:`vetting.candidates.recompute`); idempotent, in chunks, counts in the report."""
    from vetting.candidates.recompute import CHUNK_SIZE
    from vetting.candidates.recompute import products_recompute as _recompute

    return _recompute(candidate_ids=candidate_ids, chunk_size=chunk_size or CHUNK_SIZE, progress=progress)


def failed_flags_recompute(*, candidate_ids: Iterable[int] | None = None, chunk_size: int | None = None,
                           progress: Progress = None) -> dict[str, int]:
    """Refill ``Candidate.failed_flags`` from the stored features only (no light-curve work; see
    :func:`vetting.candidates.features.failed_flags_fill`); idempotent, in chunks, returns counts."""
    from vetting.candidates.features import FILL_CHUNK_SIZE, failed_flags_fill

    return failed_flags_fill(candidate_ids=candidate_ids, chunk_size=chunk_size or FILL_CHUNK_SIZE, progress=progress)


# --- import jobs (vetting.candidates.import_jobs: plan, chunks, chord, finish) ----------------

from vetting.candidates import import_jobs as _import_jobs  # noqa: E402

IMPORT_CHUNK_TASK = _import_jobs.IMPORT_CHUNK_TASK
IMPORT_FINISH_TASK = _import_jobs.IMPORT_FINISH_TASK
IMPORT_JOB_TASK = _import_jobs.IMPORT_JOB_TASK
dispatch_chunks = _import_jobs.dispatch_chunks
import_chunk_run = _import_jobs.import_chunk_run
import_job_create = _import_jobs.import_job_create
import_job_finish = _import_jobs.import_job_finish
import_job_run = _import_jobs.import_job_run
job_progress_update = _import_jobs.job_progress_update
local_file = _import_jobs.local_file
products_job_create = _import_jobs.products_job_create


# --- recovery and retention (beat tasks) ------------------------------------------------------

@transaction.atomic
def _recover_lost(row, *, stale_after_s: float, max_attempts: int) -> str | None:
    """Re-queue (``"requeued"``) or fail (``"failed"``) one running job or chunk whose worker is
    gone; None if it came back to life or ended meanwhile (the UPDATEs are conditional)."""
    model = type(row)
    is_chunk = model is ImportChunk
    share = (row.done / row.size if row.size else 0.0) if is_chunk else (row.progress or 0)
    what = f"import job {row.job_id} chunk {row.index + 1}" if is_chunk else f"import job {row.pk}"
    beat = liveness.last_sign_of_life(row)
    where = f"at {100 * share:.0f}%, attempt {row.attempts} of {max_attempts}"
    still_lost = liveness.stale_running(model.objects.filter(pk=row.pk), stale_after_s)
    if row.attempts < max_attempts:
        message = f"worker lost {where} (no heartbeat since {beat:%Y-%m-%d %H:%M:%S}); re-queued"
        # Unsent again (no task id): the re-send step of import_jobs_recover publishes it.
        reset = {"done": 0} if is_chunk else {"progress": 0.0}
        if not still_lost.update(state=ImportJob.State.QUEUED, task_id="", message=message[:255], **reset):
            return None
        logger.warning("%s: %s", what, message)
        return "requeued"
    error = (f"worker lost {where}: no heartbeat for more than {stale_after_s:.0f} s "
             f"(last {beat.isoformat()}); not retried again")
    if not still_lost.update(state=ImportJob.State.FAILED, finished_at=timezone.now(), errors=[error],
                             message="worker lost"):
        return None
    logger.warning("%s failed: %s", what, error)
    return "failed"


def import_jobs_recover(*, stale_after_s: float | None = None, requeue_after_s: float | None = None) -> dict:
    """Beat: recover import jobs and chunks lost to a dead worker or a broker outage; returns
    counts (jobs and chunks together).

    * a job or chunk ``running`` with no heartbeat for ``stale_after_s`` (default
      ``VETTING_IMPORT_STALE_AFTER_S``): the worker died. Imports are idempotent (rows are
      upserted), so it is re-queued (unsent) and re-sent below, with the reason in ``message``,
      until it has been started ``VETTING_IMPORT_MAX_ATTEMPTS`` times; then it is ``failed`` with
      the reason in ``errors`` (an upload that kills its worker every time must not loop
      forever). A job that has chunks is alive as long as they are: only its chunks are judged.
    * ``queued`` with no task id for ``requeue_after_s`` (default ``VETTING_REQUEUE_AFTER_S``):
      the broker was down when it was accepted; its task is published now.
    * ``queued`` with a task id for ``VETTING_QUEUED_STUCK_AFTER_S`` while no import runs: its
      message was lost (e.g. Redis restarted empty); published again (duplicates are harmless).
    * a running job none of whose chunks is queued or running (its chord's final step was lost,
      or its last chunk failed for good): finished now (:func:`import_job_finish`).
    """
    stale_after_s = float(settings.VETTING_IMPORT_STALE_AFTER_S if stale_after_s is None else stale_after_s)
    requeue_after_s = float(settings.VETTING_REQUEUE_AFTER_S if requeue_after_s is None else requeue_after_s)
    max_attempts = int(settings.VETTING_IMPORT_MAX_ATTEMPTS)
    outcome = {"requeued": 0, "failed": 0, "resent": 0}
    has_chunks = Exists(ImportChunk.objects.filter(job_id=OuterRef("pk")))
    lost_jobs = liveness.stale_running(ImportJob.objects.filter(~has_chunks), stale_after_s)
    lost_chunks = liveness.stale_running(ImportChunk.objects.filter(job__state=ImportJob.State.RUNNING),
                                         stale_after_s)
    for row in [*lost_jobs, *lost_chunks]:
        result = _recover_lost(row, stale_after_s=stale_after_s, max_attempts=max_attempts)
        if result:
            outcome[result] += 1
    jobs_qs = ImportJob.objects.all()
    chunks_qs = ImportChunk.objects.filter(job__state=ImportJob.State.RUNNING)
    # A re-queued row was created before its last heartbeat, so more than stale_after_s ago.
    for qs, task in ((jobs_qs, IMPORT_JOB_TASK), (chunks_qs, IMPORT_CHUNK_TASK)):
        outcome["resent"] += liveness.resend_queued(qs, task, older_than_s=min(requeue_after_s, stale_after_s))
    stuck_s = float(settings.VETTING_QUEUED_STUCK_AFTER_S)
    if not (jobs_qs.filter(~has_chunks, state=ImportJob.State.RUNNING).exists()
            or chunks_qs.filter(state=ImportJob.State.RUNNING).exists()):
        outcome["resent"] += liveness.resend_queued(jobs_qs, IMPORT_JOB_TASK, older_than_s=stuck_s, only_unsent=False)
        outcome["resent"] += liveness.resend_queued(chunks_qs, IMPORT_CHUNK_TASK, older_than_s=stuck_s,
                                                    only_unsent=False)
    pending = ImportChunk.objects.filter(job_id=OuterRef("pk"), state__in=[ImportJob.State.QUEUED,
                                                                           ImportJob.State.RUNNING])
    # A job whose chunks are still pending (and watched above) is alive: its heartbeat says so
    # (/health/ reads it), also while its chunks wait in the queue behind other work.
    jobs_qs.filter(Exists(pending), state=ImportJob.State.RUNNING).update(heartbeat_at=timezone.now())
    for job_id in jobs_qs.filter(has_chunks, ~Exists(pending), state=ImportJob.State.RUNNING).values_list("pk",
                                                                                                         flat=True):
        import_job_finish(job_id=job_id)
    return outcome


def import_uploads_purge(*, now=None) -> dict:
    """Beat: delete the uploaded files of ended import jobs after their retention time.

    Finished jobs keep their file ``VETTING_UPLOAD_RETENTION_DAYS`` after ``finished_at``, failed
    ones ``VETTING_FAILED_UPLOAD_RETENTION_DAYS`` (long enough to diagnose the failure). The row
    stays (counts, errors, who and when) with ``upload`` emptied and ``upload_purged_at`` set;
    queued and running jobs are never touched. Returns ``{"files": n, "bytes": n}``.
    """
    now = now or timezone.now()
    keep_days = {ImportJob.State.FINISHED: float(settings.VETTING_UPLOAD_RETENTION_DAYS),
                 ImportJob.State.FAILED: float(settings.VETTING_FAILED_UPLOAD_RETENTION_DAYS)}
    purged = {"files": 0, "bytes": 0}
    for state, days in keep_days.items():
        expired = (ImportJob.objects.filter(state=state, finished_at__lt=now - timedelta(days=days))
                   .exclude(upload="").only("pk", "upload"))
        for job in expired.iterator(chunk_size=200):
            purged["bytes"] += _delete_upload(job)
            purged["files"] += 1
    if purged["files"]:
        logger.info("deleted %s uploaded import file(s), %s bytes", purged["files"], purged["bytes"])
    return purged


def _delete_upload(job: ImportJob) -> int:
    """Delete one job's stored upload (a missing file is fine), then clear the field; bytes freed."""
    name, size = job.upload.name, 0
    storage = job.upload.storage
    try:
        size = storage.size(name)
    except OSError:
        pass
    storage.delete(name)  # a no-op for a file already gone
    ImportJob.objects.filter(pk=job.pk, upload=name).update(upload="", upload_purged_at=timezone.now())
    return size
