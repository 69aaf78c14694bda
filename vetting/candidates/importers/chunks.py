"""Split an import job into chunks (:class:`~vetting.candidates.models.ImportChunk`) and run one.

What a chunk covers, by job kind (``ImportChunk.spec``):

* ``catalog`` - up to ``VETTING_IMPORT_CHUNK_ROWS`` rows of the table. The whole file is read
  and checked once when the job is planned (a bad file fails the job and writes nothing); each
  chunk's rows (with their line numbers in the upload, so row errors name the uploaded line)
  are stored as a small JSON part through Django's storage (``imports/parts/<job>/<index>.json``),
  so a worker on another machine reads only its part. A candidate id repeated in the file is
  imported once, from its last row (as a one-task import did), whichever chunk runs first.
* ``products`` - up to ``VETTING_IMPORT_CHUNK_CANDIDATES`` candidates with a stored time series,
  as a pk range: their views, metrics and plot payloads are recomputed from the stored light
  curves (:func:`vetting.candidates.recompute.products_recompute`). This is the light-curve
  processing (clean, detrend, fold, measure, bin) that benefits from more worker processes.
* ``fits`` and ``views`` - one chunk (a light-curve file is one unit; a views bundle is read
  as a whole).

Every chunk is idempotent: it upserts under the unique constraints of what it writes.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db.models import Exists, OuterRef

from vetting.candidates.importers.errors import BadFileError, ImportReport
from vetting.candidates.models import Candidate, ImportJob, LightCurve

PARTS_DIR = "imports/parts"

#: ``(spec, size)`` of each chunk of a job, in order.
Plan = list[tuple[dict, int]]


def plan_job(job: ImportJob, path: Path | None) -> Plan:
    """The chunks of ``job`` (``path``: a local copy of its upload, None for ``products``).

    Raises BadFileError (nothing written) for an upload that cannot be imported at all.
    """
    if job.kind == ImportJob.Kind.CATALOG:
        return _plan_catalog(job, path)
    if job.kind == ImportJob.PRODUCTS:
        return _plan_products(job)
    if job.kind in (ImportJob.Kind.FITS, ImportJob.Kind.VIEWS):
        return [({"whole": True}, 1)]
    raise BadFileError(f"unknown import kind {job.kind!r}")


def part_name(job_id: int, index: int) -> str:
    return f"{PARTS_DIR}/{job_id}/{index:05d}.json"


def delete_parts(job_id: int, names: list[str]) -> None:
    """Delete a job's stored parts (a missing one is fine)."""
    for name in names:
        default_storage.delete(name)


def _write_part(name: str, body: dict) -> str:
    default_storage.delete(name)  # a re-planned job overwrites its parts
    return default_storage.save(name, ContentFile(json.dumps(body, separators=(",", ":")).encode()))


def _plan_catalog(job: ImportJob, path: Path) -> Plan:
    from vetting.candidates.importers.archive import checked_table, row_candidate_id

    spec, header, rows = checked_table(path, (job.options or {}).get("table") or None)
    # A repeated candidate id: only its last row is imported (chunks may run in any order).
    last = {}
    for i, (_line, row) in enumerate(rows):
        cid = row_candidate_id(spec, row)
        if cid:
            last[cid] = i
    keep = [(line, row) for i, (line, row) in enumerate(rows)
            if not (cid := row_candidate_id(spec, row)) or last[cid] == i]
    size = max(1, int(settings.VETTING_IMPORT_CHUNK_ROWS))
    plan: Plan = []
    for index, start in enumerate(range(0, len(keep), size)):
        part = keep[start:start + size]
        body = {"table": spec.name, "header": header, "source": Path(job.upload.name).name,
                "rows": [[line, row[None] if None in row else [row[h] for h in header]] for line, row in part]}
        plan.append(({"part": _write_part(part_name(job.pk, index), body)}, len(part)))
    if plan:
        plan[0][0]["superseded_rows"] = len(rows) - len(keep)  # counted once, by the first chunk
    return plan


def _plan_products(job: ImportJob) -> Plan:
    ids = _products_candidates(job)
    size = max(1, int(settings.VETTING_IMPORT_CHUNK_CANDIDATES))
    return [({"pk_min": ids[s], "pk_max": ids[min(s + size, len(ids)) - 1]}, len(ids[s:s + size]))
            for s in range(0, len(ids), size)]


def _products_candidates(job: ImportJob, pk_min: int | None = None, pk_max: int | None = None) -> list[int]:
    """Pks (ascending) of the candidates of a products job that have a stored time series (their
    own, or their target's unattached ones, as :mod:`vetting.candidates.recompute` reads)."""
    series = LightCurve.objects.filter(kind=LightCurve.Kind.TIMESERIES, target_id=OuterRef("target_id"))
    qs = Candidate.objects.filter(Exists(series)).order_by("pk")
    wanted = (job.options or {}).get("candidate_ids")
    if wanted is not None:
        qs = qs.filter(pk__in=[int(pk) for pk in wanted])
    if pk_min is not None:
        qs = qs.filter(pk__gte=pk_min, pk__lte=pk_max)
    return list(qs.values_list("pk", flat=True))


def run_chunk(job: ImportJob, spec: dict, *, path_for_upload: Callable, progress=None) -> ImportReport:
    """Run one chunk of ``job`` described by ``spec`` (see the module docstring).

    ``path_for_upload``: a context manager giving a local path of the job's upload (only the
    ``fits``/``views`` chunks read the whole upload). ``progress(done, total)`` in items.
    """
    opts = job.options or {}
    if job.kind == ImportJob.Kind.CATALOG:
        return _run_catalog_part(spec, with_catalog_labels=bool(opts.get("with_catalog_labels")), progress=progress)
    if job.kind == ImportJob.PRODUCTS:
        from vetting.candidates.recompute import products_recompute

        ids = _products_candidates(job, spec["pk_min"], spec["pk_max"])
        return products_recompute(candidate_ids=ids, progress=progress)
    from vetting.candidates.importers.fits import import_fits
    from vetting.candidates.importers.views_bundle import import_views_path

    with path_for_upload() as path:
        if job.kind == ImportJob.Kind.FITS:
            report = import_fits(path=path, mission=opts.get("mission") or None,
                                 original_filename=Path(job.upload.name).name)
        elif job.kind == ImportJob.Kind.VIEWS:
            report = import_views_path(path=path, with_catalog_labels=bool(opts.get("with_catalog_labels")),
                                       progress=progress)
        else:
            raise BadFileError(f"unknown import kind {job.kind!r}")
    if progress:
        progress(1, 1)
    return report


def read_part(name: str) -> dict:
    """A stored chunk part; BadFileError when it is gone (e.g. purged)."""
    try:
        with default_storage.open(name, "rb") as handle:
            return json.loads(handle.read())
    except (FileNotFoundError, OSError) as exc:
        raise BadFileError(f"the chunk's stored part {name} cannot be read ({exc})") from exc


def _run_catalog_part(spec: dict, *, with_catalog_labels: bool, progress=None) -> ImportReport:
    from vetting.candidates.importers import archive

    body = read_part(spec["part"])
    header = body["header"]
    rows = [(line, {None: values} if isinstance(values, str) else dict(zip(header, values)))
            for line, values in body["rows"]]
    report = archive.import_archive_rows(spec=archive.TABLES[body["table"]], header=header, rows=rows,
                                         source=f"{body['source']} ({body['table']})",
                                         with_catalog_labels=with_catalog_labels, progress=progress)
    if spec.get("superseded_rows"):  # rows whose id a later row repeats: read, not imported
        report.counts["rows"] += spec["superseded_rows"]
        report.counts["rows_superseded"] += spec["superseded_rows"]
    return report
