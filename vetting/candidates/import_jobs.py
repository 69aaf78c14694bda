"""Import jobs fanned out over the workers: an :class:`ImportJob` runs as :class:`ImportChunk` rows.

Flow (every step idempotent; tasks are sent by name, this module imports no task):

1. :func:`import_job_create` (an upload) or :func:`products_job_create` (recompute the products
   of stored light curves) writes a queued job and, after commit, sends ``import_job_run``.
2. :func:`import_job_run` claims the job (conditional UPDATE ``queued -> running``), reads and
   checks the whole upload once (a bad file fails the job and writes nothing) and splits it into
   chunks (:mod:`vetting.candidates.importers.chunks`; sizes ``VETTING_IMPORT_CHUNK_ROWS`` and
   ``VETTING_IMPORT_CHUNK_CANDIDATES``). With ``fan_out=True`` (the Celery task) it sends a
   Celery chord: one ``import_chunk_run`` per chunk, on as many worker processes as consume the
   ``imports`` queue, then ``import_job_finish``. Without it (scripts, tests) the chunks run here,
   one after the other, and the job is finished before it returns.
3. :func:`import_chunk_run` claims its chunk the same way, beats its heartbeat, upserts its rows
   (a re-run updates, never duplicates) and adds its progress to the job's: the job's
   ``progress`` is the share of its items (rows, files, candidates) its chunks have done, its
   ``counts`` say how many chunks are done, running and failed.
4. :func:`import_job_finish` (the chord's final step) sums the chunks' counts and errors into the
   job once no chunk is queued or running: ``finished``, or ``failed`` when a chunk failed (its
   reason first in ``errors``). A chunk that ran outside a chord (re-sent by recovery) calls it
   itself when it ends.

Recovery of a chunk whose worker died is :func:`vetting.candidates.services.import_jobs_recover`
(the same rules as a job's: stale heartbeat -> re-queued until ``VETTING_IMPORT_MAX_ATTEMPTS``
starts -> failed with the reason).
"""
from __future__ import annotations

import logging
import shutil
import tempfile
import time
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.db import transaction
from django.db.models import F, Sum
from django.utils import timezone

from classifier.catalogs import TABLE_NAMES
from vetting.candidates import uploads
from vetting.candidates.importers import chunks as chunking
from vetting.candidates.importers.errors import BadFileError, ImportFailed
from vetting.candidates.models import Candidate, ImportChunk, ImportJob, LightCurve, Target
from vetting.core import db, jobs, liveness

logger = logging.getLogger(__name__)

#: Registered names of the import tasks (``vetting.candidates.tasks``).
IMPORT_JOB_TASK = "vetting.candidates.tasks.import_job_run"
IMPORT_CHUNK_TASK = "vetting.candidates.tasks.import_chunk_run"
IMPORT_FINISH_TASK = "vetting.candidates.tasks.import_job_finish"

PENDING = (ImportJob.State.QUEUED, ImportJob.State.RUNNING)


@transaction.atomic
def import_job_create(*, kind: str, upload: File, options: dict | None = None, created_by=None) -> ImportJob:
    """Store an uploaded file as a queued :class:`ImportJob`; the import runs in the workers.

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
    _send_job(job)
    return job


@transaction.atomic
def products_job_create(*, candidate_ids: list[int] | None = None, created_by=None) -> ImportJob:
    """A queued job that recomputes the products (views, vetting metrics, plot payloads) of the
    candidates with stored light curves, in chunks over the workers (all such candidates when
    ``candidate_ids`` is None). The light-curve processing of a bulk load: store the light
    curves, then run this. Returns the job (its task is sent after commit)."""
    options = {} if candidate_ids is None else {"candidate_ids": sorted({int(pk) for pk in candidate_ids})}
    job = ImportJob(kind=ImportJob.PRODUCTS, options=options, created_by=created_by)
    job.full_clean()
    job.save()
    _send_job(job)
    return job


def _send_job(job: ImportJob) -> None:
    def sent(task_id: str) -> None:
        ImportJob.objects.filter(pk=job.pk, state=ImportJob.State.QUEUED).update(task_id=task_id[:64])
        job.task_id = task_id  # the caller's 202 body tells whether the task was sent

    # Broker down: the row stays queued with no task id; import_jobs_recover (beat) re-sends it.
    jobs.send_on_commit(IMPORT_JOB_TASK, job.pk, then=sent)


# --- the job: plan, dispatch, finish ----------------------------------------------------------

def import_job_run(*, job_id: int, task_id: str = "", fan_out: bool = False) -> ImportJob:
    """Claim a queued job, split it into chunks and run them (idempotent).

    A redelivered or re-sent task finds the job no longer queued and does nothing. A file that
    cannot be imported fails the job with the reason in ``errors`` (nothing written).
    ``fan_out`` True (the Celery task): send the chunks as a chord and return the running job;
    False: run every chunk in this process and return the ended job.
    """
    if not liveness.claim(ImportJob.objects.filter(pk=job_id), task_id=task_id, progress=0.0):
        return ImportJob.objects.get(pk=job_id)
    job = ImportJob.objects.get(pk=job_id)
    try:
        with liveness.Heartbeat(ImportJob, job_id, heartbeat_every_s):
            pending = _plan(job)
    except ImportFailed as exc:
        _end_job(job_id, ImportJob.State.FAILED, errors=[str(exc)])
        return ImportJob.objects.get(pk=job_id)
    except Exception as exc:  # unexpected: record it, then let the task log the traceback
        _end_job(job_id, ImportJob.State.FAILED, errors=[f"internal error: {type(exc).__name__}: {exc}"])
        raise
    if fan_out and pending:
        dispatch_chunks(job_id, pending)
        return ImportJob.objects.get(pk=job_id)
    for chunk_id in pending:
        import_chunk_run(chunk_id=chunk_id, finish_if_last=False)
    return import_job_finish(job_id=job_id)


def _plan(job: ImportJob) -> list[int]:
    """Create the job's chunks (once) and return the pks of those still queued."""
    if not job.chunks.exists():
        if job.kind == ImportJob.PRODUCTS:
            plan = chunking.plan_job(job, None)
        else:
            with local_file(job.upload) as path:
                plan = chunking.plan_job(job, path)
        with transaction.atomic():
            ImportChunk.objects.bulk_create(
                [ImportChunk(job=job, index=i, spec=spec, size=size) for i, (spec, size) in enumerate(plan)])
            ImportJob.objects.filter(pk=job.pk).update(counts=_chunk_tally(job.pk))
    return list(job.chunks.filter(state=ImportJob.State.QUEUED).order_by("index").values_list("pk", flat=True))


def dispatch_chunks(job_id: int, chunk_ids: list[int]) -> bool:
    """Send a chord: ``import_chunk_run`` per chunk, then ``import_job_finish``; True if the
    broker took it. The chunks' task ids are stored; a broker that refuses leaves them queued
    with no task id, and the recovery beat re-sends them."""
    from celery import chord, signature
    from celery.utils import uuid

    ids = {pk: uuid() for pk in chunk_ids}
    try:
        chord([signature(IMPORT_CHUNK_TASK, args=(pk,), task_id=tid) for pk, tid in ids.items()])(
            signature(IMPORT_FINISH_TASK, args=(job_id,)))
    except Exception as exc:  # kombu/redis raise many types: logged, recovered by the beat
        logger.warning("import job %s: chunks not sent: broker publish failed: %s", job_id, exc)
        return False
    for pk, tid in ids.items():
        ImportChunk.objects.filter(pk=pk, state=ImportJob.State.QUEUED, task_id="").update(task_id=tid)
    return True


def import_job_finish(*, job_id: int) -> ImportJob:
    """End a running job once none of its chunks is queued or running (else do nothing).

    ``counts`` = the sum of its chunks' counts plus ``chunks``/``chunks_finished``/
    ``chunks_failed`` and ``seconds``; ``errors`` = failed chunks' reasons, then rejected rows.
    ``failed`` when a chunk failed, else ``finished``. The chunks' stored parts are deleted.
    Idempotent: the final UPDATE is conditional on the job still running.
    """
    job = ImportJob.objects.get(pk=job_id)
    rows = list(job.chunks.order_by("index").values("index", "state", "counts", "errors", "spec", "size"))
    if job.state != ImportJob.State.RUNNING or any(r["state"] in PENDING for r in rows):
        return job
    counts: Counter = Counter()
    failed, row_errors = [], []
    for r in rows:
        for key, value in (r["counts"] or {}).items():
            if isinstance(value, (int, float)) and key != "seconds":
                counts[key] += value
        if r["state"] == ImportJob.State.FAILED:
            failed.extend(f"chunk {r['index'] + 1} of {len(rows)} ({r['size']} item(s)): {e}" for e in r["errors"])
        else:
            row_errors.extend(r["errors"] or [])
    counts.update(_chunk_tally(job_id))
    seconds = (timezone.now() - job.started_at).total_seconds() if job.started_at else 0.0
    counts["seconds"] = round(seconds, 3)
    state = ImportJob.State.FAILED if failed else ImportJob.State.FINISHED
    if _end_job(job_id, state, counts=dict(counts), errors=failed + row_errors):
        chunking.delete_parts(job_id, [r["spec"]["part"] for r in rows if "part" in (r["spec"] or {})])
        # The pages' plans need the new row counts now, not when autovacuum next looks.
        db.analyze(Target, Candidate, LightCurve)
    return ImportJob.objects.get(pk=job_id)


def _end_job(job_id: int, state: str, *, counts: dict | None = None, errors: list | None = None) -> int:
    return ImportJob.objects.filter(pk=job_id, state=ImportJob.State.RUNNING).update(
        state=state, finished_at=timezone.now(), counts=counts or {}, errors=errors or [],
        progress=1.0 if state == ImportJob.State.FINISHED else F("progress"))


def _chunk_tally(job_id: int) -> dict:
    states = Counter(ImportChunk.objects.filter(job_id=job_id).values_list("state", flat=True))
    return {"chunks": sum(states.values()), "chunks_finished": states[ImportJob.State.FINISHED],
            "chunks_running": states[ImportJob.State.RUNNING], "chunks_failed": states[ImportJob.State.FAILED]}


def job_progress_update(job_id: int) -> None:
    """The job's progress = items done by its chunks / items of all its chunks; its counts say
    how many chunks are done; its heartbeat is refreshed (a chunk of it is alive)."""
    totals = ImportChunk.objects.filter(job_id=job_id).aggregate(done=Sum("done"), size=Sum("size"))
    share = (totals["done"] or 0) / totals["size"] if totals["size"] else 0.0
    ImportJob.objects.filter(pk=job_id, state=ImportJob.State.RUNNING).update(
        progress=min(1.0, share), heartbeat_at=timezone.now(), counts=_chunk_tally(job_id))


# --- one chunk --------------------------------------------------------------------------------

def import_chunk_run(*, chunk_id: int, task_id: str = "", worker: str = "",
                     finish_if_last: bool = True) -> ImportChunk:
    """Claim a queued chunk (conditional UPDATE) and run it; a duplicate message does nothing.

    Ends ``finished`` with its counts and rejected rows, or ``failed`` with the reason (never
    raises for a failed chunk: the chord's final step must still run). ``worker`` (the Celery
    hostname) is kept in ``message``. ``finish_if_last``: call :func:`import_job_finish`
    afterwards, which ends the job when no chunk of it is left: a chunk re-sent by recovery runs
    outside the chord, whose final step then never comes.
    """
    claim = {"done": 0, "message": f"run by {worker}"[:255] if worker else ""}
    if not liveness.claim(ImportChunk.objects.filter(pk=chunk_id), task_id=task_id, **claim):
        return ImportChunk.objects.get(pk=chunk_id)
    chunk = ImportChunk.objects.select_related("job").get(pk=chunk_id)
    job = chunk.job
    last = {"t": 0.0}

    def progress(done: int, total: int) -> None:
        now = time.monotonic()
        if total and (now - last["t"] > 1.0 or done >= total):  # at most one UPDATE per second
            last["t"] = now
            ImportChunk.objects.filter(pk=chunk_id, state=ImportJob.State.RUNNING).update(
                done=min(chunk.size, round(chunk.size * done / total)), heartbeat_at=timezone.now())
            job_progress_update(job.pk)

    try:
        with liveness.Heartbeat(ImportChunk, chunk_id, heartbeat_every_s):
            report = chunking.run_chunk(job, chunk.spec, path_for_upload=lambda: local_file(job.upload),
                                        progress=progress)
    except ImportFailed as exc:
        _end_chunk(chunk_id, ImportJob.State.FAILED, errors=[str(exc)])
    except Exception as exc:  # logged with its traceback; the chunk (not the chord) fails
        logger.exception("import job %s chunk %s failed", job.pk, chunk.index)
        _end_chunk(chunk_id, ImportJob.State.FAILED, errors=[f"internal error: {type(exc).__name__}: {exc}"])
    else:
        summary = report.as_dict()
        _end_chunk(chunk_id, ImportJob.State.FINISHED, counts=summary["counts"] | {"seconds": summary["seconds"]},
                   errors=summary["errors"], done=chunk.size)
    job_progress_update(job.pk)
    if finish_if_last:
        import_job_finish(job_id=job.pk)
    return ImportChunk.objects.get(pk=chunk_id)


def _end_chunk(chunk_id: int, state: str, *, counts: dict | None = None, errors: list | None = None,
               done: int | None = None) -> None:
    values = {"state": state, "finished_at": timezone.now(), "counts": counts or {}, "errors": errors or []}
    if done is not None:
        values["done"] = done
    ImportChunk.objects.filter(pk=chunk_id, state=ImportJob.State.RUNNING).update(**values)


def heartbeat_every_s() -> float:
    return float(settings.VETTING_IMPORT_HEARTBEAT_S)


@contextmanager
def local_file(fieldfile):
    """A local path for a stored file (the storage's own path, or a temporary copy: a worker on
    another machine reads the upload from shared storage)."""
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
