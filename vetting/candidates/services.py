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
* :func:`import_job_create` / :func:`import_job_run` - an upload as an :class:`ImportJob` row
  (checked by :mod:`vetting.candidates.uploads`), run by the Celery task
  ``vetting.candidates.tasks.import_job_run`` (sent by name after commit: no import of tasks).
* :func:`import_jobs_recover` - beat: re-queue (or, after ``VETTING_IMPORT_MAX_ATTEMPTS``, fail)
  running jobs whose worker died, re-send queued jobs the broker never accepted.
* :func:`import_uploads_purge` - beat: delete uploaded files of finished/failed jobs after
  ``VETTING_UPLOAD_RETENTION_DAYS`` / ``VETTING_FAILED_UPLOAD_RETENTION_DAYS``.

Every importer returns an :class:`~vetting.candidates.importers.errors.ImportReport` and raises
:class:`~vetting.candidates.importers.errors.BadFileError` (nothing written) for an unusable file.
"""
from __future__ import annotations

import logging
import shutil
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from classifier.catalogs import TABLE_NAMES
from vetting.candidates import uploads
from vetting.candidates.importers.errors import BadFileError, ImportFailed, ImportReport
from vetting.candidates.models import Candidate, ImportJob
from vetting.core import jobs, liveness

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
    from vetting.candidates.importers.views_bundle import import_views_folder

    path = Path(path)
    if path.suffix.lower() == ".zip":
        with _unzipped(path) as folder:
            return import_views_folder(folder=folder, with_catalog_labels=with_catalog_labels, progress=progress)
    return import_views_folder(folder=path, with_catalog_labels=with_catalog_labels, progress=progress)


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


# --- import jobs --------------------------------------------------------------------------------

#: Registered name of the task that runs an import job (``vetting.candidates.tasks``).
IMPORT_JOB_TASK = "vetting.candidates.tasks.import_job_run"


@transaction.atomic
def import_job_create(*, kind: str, upload: File, options: dict | None = None, created_by=None) -> ImportJob:
    """Store an uploaded file as a queued :class:`ImportJob`; the import runs in the worker.

    Parameters
    ----------
    kind : ``"catalog"`` (archive CSV), ``"fits"`` (one light curve) or ``"views"`` (a .zip with
        ``candidates.csv`` and ``views.npz``).
    upload : a Django ``File``/``UploadedFile`` (its ``name`` is kept).
    options : ``{"table": None or a name of classifier.catalogs.TABLE_NAMES, "with_catalog_labels": bool}``
        for catalogs, ``{"with_catalog_labels": bool}`` for views, ``{"mission": ...}`` for FITS.
    created_by : the user (or None).

    The file goes through :func:`vetting.candidates.uploads.check_upload` (name, size, content
    for ``kind``), the one check every upload path shares. The Celery task is enqueued with
    ``transaction.on_commit``, so the worker never sees a row that was rolled back. Raises
    ``ValidationError`` for an unknown kind or option, or a file that is not what ``kind`` says
    (:class:`~vetting.candidates.uploads.UploadTooLarge` when it is over the size limit).
    """
    options = dict(options or {})
    if kind not in ImportJob.Kind.values:
        raise ValidationError(
            {"kind": f"unknown import kind {kind!r}; expected one of {', '.join(ImportJob.Kind.values)}"})
    allowed = {"table", "with_catalog_labels", "mission"}
    unknown = set(options) - allowed
    if unknown:
        raise ValidationError(
            {"options": f"unknown option(s) {', '.join(sorted(unknown))}; allowed: {', '.join(sorted(allowed))}"})
    if options.get("table") not in (None, "", *TABLE_NAMES):
        raise ValidationError(
            {"options": f"unknown table {options['table']!r}; expected one of {', '.join(TABLE_NAMES)}"})
    uploads.check_upload(kind=kind, upload=upload)
    name = Path(getattr(upload, "name", "") or "upload").name
    job = ImportJob(kind=kind, options=options, created_by=created_by)
    job.full_clean(exclude=["upload"])
    job.upload.save(name, upload, save=False)
    job.save()

    def sent(task_id: str) -> None:
        _store_task_id(job.pk, task_id)
        job.task_id = task_id  # the caller's 202 body tells whether the task was sent

    # Broker down: the row stays queued with no task id; import_jobs_recover (beat) re-sends it.
    jobs.send_on_commit(IMPORT_JOB_TASK, job.pk, then=sent)
    return job


def _store_task_id(job_id: int, task_id: str) -> None:
    ImportJob.objects.filter(pk=job_id, state=ImportJob.State.QUEUED).update(task_id=task_id[:64])


def import_job_run(*, job_id: int, task_id: str = "") -> ImportJob:
    """Run a queued import job (called by the Celery task; idempotent).

    Claims the row with a conditional UPDATE (queued -> running, ``attempts`` + 1), so a
    redelivered or re-sent task does nothing for a job already running or done. While running,
    a heartbeat thread refreshes ``heartbeat_at`` every ``VETTING_IMPORT_HEARTBEAT_S`` and
    ``progress`` (0..1) is updated; then ``finished`` with ``counts`` and the rejected rows in
    ``errors``, or ``failed`` with the reason in ``errors`` (a bad file writes nothing). Only
    the worker's death leaves a job ``running``: :func:`import_jobs_recover` handles that.
    """
    claimed = liveness.claim(ImportJob.objects.filter(pk=job_id), task_id=task_id, progress=0.0)
    job = ImportJob.objects.get(pk=job_id)
    if not claimed:
        return job
    last = {"t": 0.0}

    def progress(done: int, total: int) -> None:
        now = time.monotonic()
        if total and (now - last["t"] > 1.0 or done >= total):  # at most one UPDATE per second
            last["t"] = now
            ImportJob.objects.filter(pk=job_id, state=ImportJob.State.RUNNING).update(
                progress=min(1.0, done / total), heartbeat_at=timezone.now())

    try:
        with liveness.Heartbeat(ImportJob, job_id, _heartbeat_every_s), _local_file(job.upload) as path:
            report = _run_kind(job, path, progress)
    except ImportFailed as exc:
        _finish(job_id, ImportJob.State.FAILED, errors=[str(exc)])
    except Exception as exc:  # unexpected: record it, then let the task log the traceback
        _finish(job_id, ImportJob.State.FAILED, errors=[f"internal error: {type(exc).__name__}: {exc}"])
        raise
    else:
        summary = report.as_dict()
        _finish(job_id, ImportJob.State.FINISHED, counts=summary["counts"] | {"seconds": summary["seconds"]},
                errors=summary["errors"])
    return ImportJob.objects.get(pk=job_id)


def _run_kind(job: ImportJob, path: Path, progress) -> ImportReport:
    opts = job.options or {}
    if job.kind == ImportJob.Kind.CATALOG:
        return import_catalog_file(path=path, table=opts.get("table") or None,
                                   with_catalog_labels=bool(opts.get("with_catalog_labels")), progress=progress)
    if job.kind == ImportJob.Kind.FITS:
        return import_fits_file(path=path, mission=opts.get("mission") or None,
                                original_filename=Path(job.upload.name).name)
    if job.kind == ImportJob.Kind.VIEWS:
        return import_views_bundle(path=path, with_catalog_labels=bool(opts.get("with_catalog_labels")),
                                   progress=progress)
    raise BadFileError(f"unknown import kind {job.kind!r}")


def _finish(job_id: int, state: str, *, counts: dict | None = None, errors: list | None = None) -> None:
    ImportJob.objects.filter(pk=job_id, state=ImportJob.State.RUNNING).update(
        state=state, finished_at=timezone.now(), counts=counts or {}, errors=errors or [],
        progress=1.0 if state == ImportJob.State.FINISHED else F("progress"))


def _heartbeat_every_s() -> float:
    return float(settings.VETTING_IMPORT_HEARTBEAT_S)


# --- recovery and retention (beat tasks) ------------------------------------------------------

@transaction.atomic
def _recover_lost_job(job: ImportJob, *, stale_after_s: float, max_attempts: int) -> str | None:
    """Re-queue (``"requeued"``) or fail (``"failed"``) one running job whose worker is gone;
    None if it came back to life or ended meanwhile (the UPDATEs are conditional)."""
    beat = liveness.last_sign_of_life(job)
    where = f"at {100 * (job.progress or 0):.0f}%, attempt {job.attempts} of {max_attempts}"
    still_lost = liveness.stale_running(ImportJob.objects.filter(pk=job.pk), stale_after_s)
    if job.attempts < max_attempts:
        message = f"worker lost {where} (no heartbeat since {beat:%Y-%m-%d %H:%M:%S}); re-queued"
        # Unsent again (no task id): the re-send step of import_jobs_recover publishes it.
        if not still_lost.update(state=ImportJob.State.QUEUED, task_id="", progress=0.0, message=message[:255]):
            return None
        logger.warning("import job %s: %s", job.pk, message)
        return "requeued"
    error = (f"worker lost {where}: no heartbeat for more than {stale_after_s:.0f} s "
             f"(last {beat.isoformat()}); not retried again")
    if not still_lost.update(state=ImportJob.State.FAILED, finished_at=timezone.now(), errors=[error],
                             message="worker lost"):
        return None
    logger.warning("import job %s failed: %s", job.pk, error)
    return "failed"


def import_jobs_recover(*, stale_after_s: float | None = None, requeue_after_s: float | None = None) -> dict:
    """Beat: recover import jobs lost to a dead worker or a broker outage; returns counts.

    * ``running`` with no heartbeat for ``stale_after_s`` (default ``VETTING_IMPORT_STALE_AFTER_S``):
      the worker died. Imports are idempotent (rows are upserted), so the job is re-queued
      (unsent) and re-sent below, with the reason in ``message``, until it has been started
      ``VETTING_IMPORT_MAX_ATTEMPTS`` times; then it is ``failed`` with the reason in ``errors``
      (an upload that kills its worker every time must not loop forever).
    * ``queued`` with no task id for ``requeue_after_s`` (default ``VETTING_REQUEUE_AFTER_S``):
      the broker was down when it was accepted; its task is published now.
    * ``queued`` with a task id for ``VETTING_QUEUED_STUCK_AFTER_S`` while no import runs: its
      message was lost (e.g. Redis restarted empty); published again (duplicates are harmless).
    """
    stale_after_s = float(settings.VETTING_IMPORT_STALE_AFTER_S if stale_after_s is None else stale_after_s)
    requeue_after_s = float(settings.VETTING_REQUEUE_AFTER_S if requeue_after_s is None else requeue_after_s)
    max_attempts = int(settings.VETTING_IMPORT_MAX_ATTEMPTS)
    outcome = {"requeued": 0, "failed": 0, "resent": 0}
    for job in list(liveness.stale_running(ImportJob.objects.all(), stale_after_s)):
        result = _recover_lost_job(job, stale_after_s=stale_after_s, max_attempts=max_attempts)
        if result:
            outcome[result] += 1
    jobs_qs = ImportJob.objects.all()
    # A re-queued job was created before its last heartbeat, so more than stale_after_s ago.
    outcome["resent"] = liveness.resend_queued(jobs_qs, IMPORT_JOB_TASK,
                                               older_than_s=min(requeue_after_s, stale_after_s))
    if not jobs_qs.filter(state=ImportJob.State.RUNNING).exists():
        outcome["resent"] += liveness.resend_queued(
            jobs_qs, IMPORT_JOB_TASK, older_than_s=float(settings.VETTING_QUEUED_STUCK_AFTER_S), only_unsent=False)
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


@contextmanager
def _local_file(fieldfile):
    """A local path for a stored file (the storage's own path, or a temporary copy)."""
    if not fieldfile:
        raise BadFileError("the import job has no uploaded file")
    try:
        yield Path(fieldfile.path)
        return
    except NotImplementedError:  # remote storage: copy to a temp file
        pass
    suffix = Path(fieldfile.name).suffix
    with tempfile.NamedTemporaryFile(suffix=suffix) as tmp, fieldfile.open("rb") as src:
        shutil.copyfileobj(src, tmp)
        tmp.flush()
        yield Path(tmp.name)


@contextmanager
def _unzipped(path: Path):
    """Extract a views bundle zip (only ``candidates.csv`` and ``views.npz``) to a temp folder."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise BadFileError(f"{path.name}: not a readable zip file ({exc})") from exc
    with archive, tempfile.TemporaryDirectory() as tmp:
        wanted = set(uploads.VIEWS_BUNDLE_MEMBERS)
        members = {Path(m).name: m for m in archive.namelist() if Path(m).name in wanted}
        missing = wanted - set(members)
        if missing:
            raise BadFileError(f"{path.name}: the zip must contain candidates.csv and views.npz "
                               f"(missing {', '.join(sorted(missing))})")
        for name, member in members.items():
            with archive.open(member) as src, open(Path(tmp) / name, "wb") as dst:  # never extract arbitrary paths
                shutil.copyfileobj(src, dst)
        yield Path(tmp)
