"""Rebuild stored candidate products from the stored light curves: features, views, plot payload.

When a vetting metric is added or changed in :mod:`classifier.features` (or the plot payload
changes), :func:`products_recompute` brings the stored candidates up to date through the same
code the importers use (:func:`vetting.candidates.importers.lightcurves.products_for`), so a
recomputed candidate equals a freshly imported one.

A candidate's light curve is its own time series plus its target's unattached ones (what FITS,
MAST and the demo store; the light-curve API serves the same set). Candidates are processed in
chunks of ``chunk_size`` (one query for the candidates, one for their light curves, one bulk
UPDATE of the rows that changed), so memory stays bounded and a rerun writes nothing:
recomputing is idempotent. Skipped, with a count: candidates without a stored time series
(catalog rows, and candidates imported from folded views only: they keep their views) and
candidates without a complete ephemeris. A light curve that cannot be processed is counted as
failed and its candidate left as it was.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from vetting.candidates.importers.errors import ImportReport
from vetting.candidates.importers.lightcurves import (
    PRODUCT_FIELDS,
    apply_products,
    candidate_inputs,
    joined_timeseries,
    products_for,
)
from vetting.candidates.models import Candidate, LightCurve

#: Candidates per chunk: light curves of a chunk are read together, changed rows written together.
CHUNK_SIZE = 200

Progress = Callable[[int, int], None] | None


def products_recompute(*, candidate_ids: Iterable[int] | None = None, chunk_size: int = CHUNK_SIZE,
                       progress: Progress = None) -> ImportReport:
    """Recompute features, views and plot payloads of candidates (all if ``candidate_ids`` is None).

    Parameters
    ----------
    candidate_ids : iterable of int, optional
        Candidate pks; ids that do not exist are ignored.
    chunk_size : int
        Candidates per chunk (>= 1).
    progress : callable, optional
        ``progress(done, total)`` after each chunk, counts of candidates.

    Returns
    -------
    ImportReport
        ``kind="products"``; counts ``candidates``, ``products_recomputed`` (rows rewritten),
        ``products_unchanged``, ``skipped_no_lightcurve``, ``skipped_no_ephemeris``,
        ``products_failed`` (each failure also in ``warnings``).
    """
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1 (got {chunk_size})")
    qs = Candidate.objects.order_by("pk")
    if candidate_ids is not None:
        qs = qs.filter(pk__in=sorted({int(pk) for pk in candidate_ids}))
    ids = list(qs.values_list("pk", flat=True))
    report = ImportReport(kind="products", source=f"{len(ids)} candidate(s)")
    report.counts["candidates"] = len(ids)
    for start in range(0, len(ids), chunk_size):
        _recompute_chunk(ids[start:start + chunk_size], report)
        if progress:
            progress(min(start + chunk_size, len(ids)), len(ids))
    return report.finish()


def _recompute_chunk(ids: list[int], report: ImportReport) -> None:
    candidates = list(Candidate.objects.select_related("target").filter(pk__in=ids).order_by("pk"))
    curves = _timeseries_by_candidate(candidates)
    siblings = _siblings_by_target(candidates)
    series: dict[tuple[int, ...], tuple] = {}  # a target's light curves are read once per chunk
    changed = []
    for candidate in candidates:
        rows = curves.get(candidate.pk)
        if not rows:
            report.counts["skipped_no_lightcurve"] += 1
            continue
        inputs = candidate_inputs(candidate, siblings.get(candidate.target_id, ()))
        if inputs is None:
            report.counts["skipped_no_ephemeris"] += 1
            continue
        key = tuple(r.pk for r in rows)
        if key not in series:
            series[key] = joined_timeseries(rows)
        products = products_for(inputs, *series[key])
        if products.error:
            report.counts["products_failed"] += 1
            report.warnings.append(f"{candidate}: {products.error}")
            continue
        before = _stored(candidate)
        apply_products(candidate, products)
        if _stored(candidate) == before:
            report.counts["products_unchanged"] += 1
            continue
        changed.append(candidate)
    if changed:
        now = timezone.now()
        for candidate in changed:
            candidate.updated_at = now  # bulk_update skips auto_now; API ETags depend on it
        with transaction.atomic():
            Candidate.objects.bulk_update(changed, fields=PRODUCT_FIELDS)
    report.counts["products_recomputed"] += len(changed)


def _timeseries_by_candidate(candidates: list[Candidate]) -> dict[int, list[LightCurve]]:
    """Stored time series per candidate pk: its own plus its target's unattached ones, pk order."""
    by_pk = {c.pk: c for c in candidates}
    rows = LightCurve.objects.filter(kind=LightCurve.Kind.TIMESERIES).filter(
        Q(candidate_id__in=list(by_pk)) | Q(candidate__isnull=True, target_id__in={c.target_id for c in candidates})
    ).order_by("pk")
    own: dict[int, list[LightCurve]] = defaultdict(list)
    shared: dict[int, list[LightCurve]] = defaultdict(list)
    for row in rows:
        if row.candidate_id is None:
            shared[row.target_id].append(row)
        else:
            own[row.candidate_id].append(row)
    return {pk: sorted(own[pk] + shared[c.target_id], key=lambda r: r.pk) for pk, c in by_pk.items()
            if own[pk] or shared[c.target_id]}


def _siblings_by_target(candidates: list[Candidate]) -> dict[int, list[Candidate]]:
    """Every candidate of the chunk's targets (ephemeris fields only), by target id: one query.
    A candidate's siblings are masked before its metrics are measured."""
    rows = Candidate.objects.filter(target_id__in={c.target_id for c in candidates}).only(
        "pk", "target_id", "period_days", "epoch", "epoch_system", "duration_hours")
    by_target: dict[int, list[Candidate]] = defaultdict(list)
    for row in rows:
        by_target[row.target_id].append(row)
    return by_target


def _stored(candidate: Candidate) -> tuple:
    """The product fields as comparable values (views as bytes: PostgreSQL returns memoryview)."""
    views = tuple(None if v is None else bytes(v) for v in (candidate.global_view, candidate.local_view))
    return views, candidate.features, candidate.failed_flags, candidate.plot_payload


__all__ = ["CHUNK_SIZE", "products_recompute"]
