"""Candidate rows -> the classifier's design matrix (``classifier.dataset.design_matrix``).

Rows are read chunk by chunk (no model instances) and turned into a matrix column by column, so
100k candidates take one float32 matrix (about 100k x 200 x 4 bytes = 80 MB) plus one chunk of
rows. On PostgreSQL one SQL query per chunk reads only the ``catalog_features`` keys the matrix
uses, each as its JSON text (no parse of the whole document), and ``features`` only where it is
not empty (a catalog's candidates mostly have no light curve); elsewhere (SQLite) the ORM reads
the whole rows. Both give the same values (``as_float`` of the stored JSON value).

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

import json
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from django.db import connection

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
from vetting.candidates.models import Candidate, Target
from vetting.core import db

#: Scalar columns of a design matrix built by the site, in order (the classifier's default).
SCALAR_NAMES: tuple[str, ...] = DEFAULT_SCALAR_NAMES

#: Rows fetched per database round trip and featurised at once.
CHUNK_SIZE = 2000

#: Scalars read from model fields, by their design-matrix name -> ORM path of the field.
_FIELD_SCALARS: dict[str, str] = {
    "period_days": "period_days", "duration_hours": "duration_hours", "depth_ppm": "depth_ppm", "snr": "snr",
    "impact": "impact", "planet_radius_rearth": "planet_radius_rearth", "magnitude": "target__magnitude",
    "teff_k": "target__teff_k", "logg_cgs": "target__logg_cgs", "radius_rsun": "target__radius_rsun",
    "mass_msun": "target__mass_msun",
}
#: Scalars read from ``Candidate.catalog_features``: design-matrix name -> key there (Astronet
#: columns without a model field under their column name; table features under their own name).
_CATALOG_KEYS: dict[str, str] = {**ASTRONET_EXTRA_COLUMNS, **{name: name for name in TABLE_SCALAR_NAMES}}

_FIELDS = ("id", "target_id", "global_view", "local_view", "features", "catalog_features", *_FIELD_SCALARS.values())


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


@dataclass
class _Rows:
    """One chunk of candidates as columns, ordered by pk (what :func:`_to_matrix` reads).

    ``features``: ``Candidate.features`` per row (None or anything but a dict = none);
    ``catalog``: float64 (n,) per :data:`_CATALOG_KEYS` name; ``fields``: float or None per row,
    per :data:`_FIELD_SCALARS` name.
    """

    ids: Sequence[int]
    targets: Sequence[int]
    global_raw: Sequence[bytes | None]
    local_raw: Sequence[bytes | None]
    features: Sequence
    catalog: dict[str, np.ndarray]
    fields: dict[str, Sequence]


def _view(raw, n_bins: int) -> np.ndarray | None:
    """Stored float32 bytes -> array, or None when absent or of the wrong length."""
    raw = None if raw is None else bytes(raw)
    # A malformed stored view (any length but n_bins floats) becomes a missing view (NaN block),
    # not a crash of the whole run.
    if raw is None or len(raw) != 4 * n_bins:
        return None
    return np.frombuffer(raw, dtype="<f4").astype(np.float64)


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
    fetch = _fetch_postgresql if db.is_postgresql() else _fetch_orm
    if candidate_ids is not None:
        ids = sorted(set(int(i) for i in candidate_ids))
        # In slices: a 100k-element id list is slow to plan and parse.
        for start in range(0, len(ids), chunk_size):
            rows = fetch(ids=ids[start:start + chunk_size])
            if rows.ids:
                yield _to_matrix(rows, scalar_names)
        return
    after = None
    while True:  # keyset pagination: each chunk one short query, no cursor held open
        rows = fetch(after=after, limit=chunk_size)
        if not rows.ids:
            return
        yield _to_matrix(rows, scalar_names)
        after = rows.ids[-1]


def _fetch_orm(*, ids: list[int] | None = None, after: int | None = None, limit: int | None = None) -> _Rows:
    """Candidates ``ids`` (or the ``limit`` next after pk ``after``) through the ORM (any database)."""
    qs = Candidate.objects.order_by("pk")
    if ids is not None:
        qs = qs.filter(pk__in=ids)
    elif after is not None:
        qs = qs.filter(pk__gt=after)
    rows = list(qs.values_list(*_FIELDS)[:limit] if limit is not None else qs.values_list(*_FIELDS))
    ids_, targets, global_raw, local_raw, features, catalogs, *fields = zip(*rows) if rows else [()] * len(_FIELDS)
    catalog = {name: np.array([as_float(c.get(key)) if isinstance(c, dict) else np.nan for c in catalogs],
                              dtype=np.float64).reshape(len(rows))
               for name, key in _CATALOG_KEYS.items()}
    return _Rows(ids_, targets, global_raw, local_raw, features, catalog, dict(zip(_FIELD_SCALARS, fields)))


def _fetch_postgresql(*, ids: list[int] | None = None, after: int | None = None, limit: int | None = None) -> _Rows:
    """:func:`_fetch_orm` in one SQL query that reads only what the matrix uses (PostgreSQL).

    Each :data:`_CATALOG_KEYS` value comes as its JSON text (``(catalog_features -> key)::text``,
    the same text the whole document would show) and ``features`` only where not ``{}``.
    """
    quote = connection.ops.quote_name
    cand, target = quote(Candidate._meta.db_table), quote(Target._meta.db_table)
    keys = ["(c.catalog_features -> %s)::text" for _ in _CATALOG_KEYS]
    fields = [f"c.{quote(path)}" if "__" not in path else f"t.{quote(path.split('__', 1)[1])}"
              for path in _FIELD_SCALARS.values()]
    params: list = list(_CATALOG_KEYS.values())
    where = "TRUE"
    if ids is not None:
        where = "c.id = ANY(%s)"
        params.append(list(ids))
    elif after is not None:
        where = "c.id > %s"
        params.append(after)
    sql = (f"SELECT c.id, c.target_id, c.global_view, c.local_view, NULLIF(c.features, '{{}}'::jsonb)::text, "
           f"{', '.join(keys + fields)} FROM {cand} c JOIN {target} t ON t.id = c.target_id "
           f"WHERE {where} ORDER BY c.id")
    if limit is not None:
        sql += " LIMIT %s"
        params.append(limit)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    n, k = len(rows), len(_CATALOG_KEYS)
    columns = list(zip(*rows)) if rows else [()] * (5 + k + len(_FIELD_SCALARS))
    catalog = {name: np.array([_json_float(text) for text in columns[5 + j]], dtype=np.float64).reshape(n)
               for j, name in enumerate(_CATALOG_KEYS)}
    features = [None if text is None else json.loads(text) for text in columns[4]]
    return _Rows(columns[0], columns[1], columns[2], columns[3], features, catalog,
                 dict(zip(_FIELD_SCALARS, columns[5 + k:])))


def _json_float(text: str | None) -> float:
    """``as_float`` of the JSON value whose text (PostgreSQL's) is ``text``; None = absent.

    A JSON number's text is parsed by ``float`` exactly as ``json.loads`` parses it; other values
    (a string, true/false, an object) are decoded first, as in the whole document.
    """
    if text is None:
        return np.nan
    try:
        value = float(text)
    except ValueError:
        return as_float(json.loads(text))
    return value if math.isfinite(value) else np.nan


def _scalar_columns(rows: _Rows) -> dict[str, np.ndarray]:
    """Every scalar of :data:`SCALAR_NAMES` but the flags (derived later) as float64 (n,).

    Values go through :func:`classifier.dataset.as_float` (NaN when missing, not a number or not
    finite; ``design_matrix_from_arrays`` makes field values finite-or-NaN itself) one column at
    a time, with no per-row dict. Light-curve metrics are read only from rows that have some.
    """
    n = len(rows.ids)
    columns = {name: _float_column(values, n) for name, values in rows.fields.items()}
    columns.update(rows.catalog)
    for name in LIGHTCURVE_SCALAR_NAMES:
        columns[name] = np.full(n, np.nan)
    for i, features in enumerate(rows.features):
        if isinstance(features, dict) and features:
            for name in LIGHTCURVE_SCALAR_NAMES:
                columns[name][i] = as_float(features.get(name[3:]))
    return columns


def _float_column(values: Sequence, n: int) -> np.ndarray:
    """Field values (float or None) -> float64 (n,), None -> NaN; anything else numpy cannot
    convert (a text value SQLite kept in a float column) through ``as_float`` like the rest."""
    try:
        return np.array(values, dtype=np.float64).reshape(n)
    except (TypeError, ValueError, OverflowError):
        return np.array([as_float(v) for v in values], dtype=np.float64).reshape(n)


def _to_matrix(rows: _Rows, scalar_names: Sequence[str]) -> Matrix:
    """One chunk of rows -> design matrix, column by column (no per-row records).

    Views are decoded into (n, 201)/(n, 61) arrays and scalars into columns; all feature
    computation is vectorised in ``design_matrix_from_arrays`` (the same code path as
    ``design_matrix``, so site and command-line matrices agree).
    """
    n = len(rows.ids)
    X, names = design_matrix_from_arrays(
        _scalar_columns(rows), _views(rows.global_raw, GLOBAL_VIEW_BINS), _views(rows.local_raw, LOCAL_VIEW_BINS),
        scalar_names=list(scalar_names))
    return Matrix(
        candidate_ids=np.array(rows.ids, dtype=np.int64).reshape(n),
        groups=np.array(rows.targets, dtype=np.int64).reshape(n),
        X=X.astype(np.float32),
        feature_names=names,
    )


def _views(raws: Sequence, n_bins: int) -> np.ndarray:
    """Stored views (bytes or None) -> (n, n_bins) float64, NaN rows where absent or malformed."""
    out = np.full((len(raws), n_bins), np.nan)
    for i, raw in enumerate(raws):
        view = _view(raw, n_bins)
        if view is not None:
            out[i] = view
    return out


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
