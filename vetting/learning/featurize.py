"""Candidate rows -> the classifier's design matrix (``classifier.dataset.design_matrix``).

Rows are read with ``values_list(...).iterator(chunk_size=...)`` (no model instances, one
server-side cursor) and turned into a matrix chunk by chunk, so 100k candidates take one
float32 matrix (about 100k x 200 x 4 bytes = 80 MB) plus one chunk of Python objects.

Scalar columns are named like the model fields and ``Candidate.features`` keys (the light-curve
metrics as ``lc_<key>``), the same names ``python -m classifier`` uses
(:data:`classifier.dataset.DEFAULT_SCALAR_NAMES`). The catalog-table features ``tbl_*``
(:mod:`classifier.table_features`) are read from ``Candidate.catalog_features``, where the catalog
import stored them after computing them over the whole imported table; candidates from no
catalog table (views bundles, demo, simulated) have none, so those columns are NaN and the
models' own missing-value handling applies. A stored model may ask for names used before
a rename (:data:`classifier.dataset.RENAMED_SCALARS`) and gets the same columns under them; a
name the site cannot provide is an error, never a silent NaN column.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from classifier.catalogs import ASTRONET_EXTRA_COLUMNS
from classifier.dataset import (
    DEFAULT_SCALAR_NAMES,
    GLOBAL_VIEW_BINS,
    LIGHTCURVE_SCALAR_NAMES,
    LOCAL_VIEW_BINS,
    TABLE_SCALAR_NAMES,
    as_float,
    canonical_scalar_name,
    design_matrix_from_arrays,
    feature_names_for,
)
from vetting.candidates.models import Candidate

#: Scalar columns of a design matrix built by the site, in order (the classifier's default).
SCALAR_NAMES: tuple[str, ...] = DEFAULT_SCALAR_NAMES

#: Rows fetched per database round trip and featurised at once.
CHUNK_SIZE = 2000

_FIELDS = (
    "id", "target_id", "global_view", "local_view", "features", "catalog_features",
    "period_days", "duration_hours", "depth_ppm", "snr", "impact", "planet_radius_rearth",
    "target__magnitude", "target__teff_k", "target__logg_cgs", "target__radius_rsun", "target__mass_msun",
)


@dataclass
class Matrix:
    """Design matrix of candidates.

    Attributes
    ----------
    candidate_ids : ndarray (n,), int64 -- ``Candidate.pk`` per row
    groups : ndarray (n,), int64 -- ``Target.pk`` per row (a star is never split by CV)
    X : ndarray (n, d), float32; NaN marks a missing value
    feature_names : list of str, length d
    """

    candidate_ids: np.ndarray
    groups: np.ndarray
    X: np.ndarray
    feature_names: list[str]


def _view(raw, n_bins: int) -> np.ndarray | None:
    """Stored float32 bytes -> array, or None when absent or of the wrong length."""
    if raw is None:
        return None
    arr = np.frombuffer(bytes(raw), dtype="<f4")
    # A malformed stored view becomes a missing view (NaN block), not a crash of the whole run.
    return arr.astype(np.float64) if arr.size == n_bins else None


def _scalars(row: tuple) -> dict[str, float | None]:
    """Every scalar of :data:`SCALAR_NAMES` for one row (missing = None)."""
    (_, _, _, _, features, catalog, period, duration, depth, snr, impact, prad,
     mag, teff, logg, srad, smass) = row
    catalog = catalog if isinstance(catalog, dict) else {}
    features = features if isinstance(features, dict) else {}
    # Catalog values without a model field, kept in catalog_features under their column name.
    scalars: dict[str, float | None] = {name: as_float(catalog.get(column))
                                        for name, column in ASTRONET_EXTRA_COLUMNS.items()}
    scalars.update({
        "period_days": period, "duration_hours": duration, "depth_ppm": depth, "snr": snr,
        "impact": impact, "planet_radius_rearth": prad,
        "magnitude": mag, "teff_k": teff, "logg_cgs": logg, "radius_rsun": srad, "mass_msun": smass,
    })
    for name in LIGHTCURVE_SCALAR_NAMES:
        scalars[name] = as_float(features.get(name[3:]))
    # Table-level features: stored under their own name by the catalog import.
    for name in TABLE_SCALAR_NAMES:
        scalars[name] = as_float(catalog.get(name))
    return scalars


def check_scalar_names(scalar_names: Sequence[str]) -> None:
    """Raise ValueError naming the scalars the site cannot provide (e.g. a model's feature that
    was removed): scoring with a silent NaN column instead would give wrong probabilities."""
    unknown = [n for n in scalar_names if canonical_scalar_name(n) not in SCALAR_NAMES]
    if unknown:
        raise ValueError(
            f"the model was trained with feature(s) {', '.join(unknown)} that this site does not compute "
            "(renamed or removed); retrain the model")


def iter_chunks(
    candidate_ids: Iterable[int] | None = None,
    *,
    scalar_names: Sequence[str] = SCALAR_NAMES,
    chunk_size: int = CHUNK_SIZE,
) -> Iterator[Matrix]:
    """Yield design-matrix chunks for the given candidates (all candidates if None), by pk.

    Ids that do not exist are skipped silently (a candidate deleted meanwhile). ValueError
    when ``scalar_names`` holds a name the site cannot provide (see :func:`check_scalar_names`).
    """
    check_scalar_names(scalar_names)
    qs = Candidate.objects.order_by("pk")
    if candidate_ids is not None:
        ids = sorted(set(int(i) for i in candidate_ids))
        # Filter in slices: a 100k-element IN list is slow to plan and parse.
        for start in range(0, len(ids), chunk_size):
            part = ids[start:start + chunk_size]
            yield from _matrices(qs.filter(pk__in=part), scalar_names, chunk_size)
        return
    yield from _matrices(qs, scalar_names, chunk_size)


def _matrices(qs, scalar_names, chunk_size) -> Iterator[Matrix]:
    buffer: list[tuple] = []
    for row in qs.values_list(*_FIELDS).iterator(chunk_size=chunk_size):
        buffer.append(row)
        if len(buffer) >= chunk_size:
            yield _to_matrix(buffer, scalar_names)
            buffer = []
    if buffer:
        yield _to_matrix(buffer, scalar_names)


def _to_matrix(rows: Sequence[tuple], scalar_names: Sequence[str]) -> Matrix:
    """One chunk of rows -> design matrix, without building a CandidateRecord per row.

    Views are decoded into (n, 201)/(n, 61) arrays and scalars into columns; all feature
    computation is vectorised in ``design_matrix_from_arrays`` (the same code path as
    ``design_matrix``, so site and command-line matrices agree).
    """
    n = len(rows)
    global_views = np.full((n, GLOBAL_VIEW_BINS), np.nan)
    local_views = np.full((n, LOCAL_VIEW_BINS), np.nan)
    for i, row in enumerate(rows):
        g, loc = _view(row[2], GLOBAL_VIEW_BINS), _view(row[3], LOCAL_VIEW_BINS)
        if g is not None:
            global_views[i] = g
        if loc is not None:
            local_views[i] = loc
    per_row = [_scalars(row) for row in rows]
    scalars = {
        name: np.array([as_float(s.get(name)) for s in per_row], dtype=np.float64).reshape(n)
        for name in SCALAR_NAMES
    }
    X, names = design_matrix_from_arrays(scalars, global_views, local_views, scalar_names=list(scalar_names))
    return Matrix(
        candidate_ids=np.fromiter((r[0] for r in rows), dtype=np.int64, count=n),
        groups=np.fromiter((r[1] for r in rows), dtype=np.int64, count=n),
        X=X.astype(np.float32),
        feature_names=names,
    )


def build_matrix(
    candidate_ids: Iterable[int] | None = None,
    *,
    scalar_names: Sequence[str] = SCALAR_NAMES,
    chunk_size: int = CHUNK_SIZE,
) -> Matrix:
    """The whole design matrix of the given candidates (all if None), rows ordered by pk."""
    chunks = list(iter_chunks(candidate_ids, scalar_names=scalar_names, chunk_size=chunk_size))
    if not chunks:
        names = feature_names_for(list(scalar_names))
        return Matrix(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, len(names)), np.float32), names)
    return Matrix(
        candidate_ids=np.concatenate([c.candidate_ids for c in chunks]),
        groups=np.concatenate([c.groups for c in chunks]),
        X=np.concatenate([c.X for c in chunks]),
        feature_names=chunks[0].feature_names,
    )
