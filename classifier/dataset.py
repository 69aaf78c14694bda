"""The design matrix of the vetting classifier.

One function, :func:`design_matrix` (and its vectorised form :func:`design_matrix_from_arrays`),
turns candidates into the feature matrix used everywhere (the command line, benchmarks and the
Django site), so a model trained by one caller can score rows built by another. The loaders of
the public formats (Astronet-Triage directories, NASA Exoplanet Archive tables) are in
:mod:`classifier.loaders`.

Columns, in order: scalars (:data:`DEFAULT_SCALAR_NAMES`: catalog values named like the site's
model fields, the light-curve vetting metrics ``lc_*`` of :mod:`classifier.features`, the flags
``flag_*``, then the catalog-table features ``tbl_*`` of :mod:`classifier.table_features`),
derived scalars, summary features of the views, the global view averaged over
:data:`GLOBAL_DOWNSAMPLE` bins and the local view. Models store the scalar names they were
trained with; names used before a rename (:data:`RENAMED_SCALARS`) are still understood.

Nothing here imports Django.

(A little over 500 lines: the column definitions and the two builders that must agree on them
stay in one file, so a new column cannot be added to one builder and not the other.)
"""
from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from classifier.features import FEATURE_NAMES, PASS_THROUGH_NAMES
from classifier.flags import FLAG_NAMES
from classifier.flags import INPUT_NAMES as FLAG_INPUT_NAMES
from classifier.flags import evaluate as evaluate_flags
from classifier.flags import maybe_computable as flags_maybe_computable
from classifier.lightcurves import GLOBAL_VIEW_BINS, LOCAL_VIEW_BINS
from classifier.table_features import TABLE_FEATURE_NAMES

#: Global views are averaged over this many adjacent bins before entering the design matrix:
#: trees gain nothing from 201 highly correlated pixels and fits get ~3x cheaper.
GLOBAL_DOWNSAMPLE = 3

#: Catalog scalars, named like the model fields (``Candidate.period_days``, ...,
#: ``Target.teff_k``, ...) with their units: period [days], duration [hours], depth [ppm],
#: teff [K], logg [log10 cm/s^2], radius [R_sun], mass [M_sun], planet radius [R_earth];
#: ``ingress_fraction`` and ``is_multi`` come from ``Candidate.catalog_features``.
CATALOG_SCALAR_NAMES: tuple[str, ...] = (
    "period_days",
    "duration_hours",
    "depth_ppm",
    "snr",
    "impact",
    "ingress_fraction",
    "magnitude",
    "teff_k",
    "logg_cgs",
    "radius_rsun",
    "mass_msun",
    "planet_radius_rearth",
    "is_multi",
)

#: Light-curve vetting metrics (:data:`classifier.features.FEATURE_NAMES`, i.e.
#: ``Candidate.features``) prefixed ``lc_`` so they never clash with catalog scalars; the
#: metrics that only pass a catalog value or a star parameter through are catalog columns already.
LIGHTCURVE_SCALAR_NAMES: tuple[str, ...] = tuple(
    f"lc_{name}" for name in FEATURE_NAMES if name not in PASS_THROUGH_NAMES
)

#: The vetting flags of :mod:`classifier.flags` as columns ``flag_<name>``: 1.0 failed, 0.0
#: passed, NaN not computable. Computed from the ``lc_*`` (and pass-through) columns, so a
#: caller never passes them; models trained before they existed do not ask for them.
FLAG_SCALAR_NAMES: tuple[str, ...] = tuple(f"flag_{name}" for name in FLAG_NAMES)

#: What a candidate's neighbours in its catalog table say about it (multiplicity, sibling period
#: ratios, ephemeris matches with other stars, instrumental periods;
#: :data:`classifier.table_features.TABLE_FEATURE_NAMES`), computed over a whole archive table by
#: :func:`classifier.table_features.archive_table_features`: by :mod:`classifier.loaders` for
#: ``python -m classifier`` and by the site's catalog import (kept in ``Candidate.catalog_features``).
#: NaN for candidates that come from no catalog table (views bundles, demo, simulated).
TABLE_SCALAR_NAMES: tuple[str, ...] = TABLE_FEATURE_NAMES

#: Scalar features in their fixed order: catalog values, then light-curve metrics (NaN for a
#: candidate without a light curve), then the vetting flags, then the catalog-table features
#: (last, so the archive-table matrices keep the column order they were benchmarked with).
DEFAULT_SCALAR_NAMES: tuple[str, ...] = (
    CATALOG_SCALAR_NAMES + LIGHTCURVE_SCALAR_NAMES + FLAG_SCALAR_NAMES + TABLE_SCALAR_NAMES)

#: Scalar names of models trained before they were aligned with the model fields -> today's
#: name. A stored model asking for an old name gets the same quantity under it.
RENAMED_SCALARS: dict[str, str] = {
    "teff": "teff_k",
    "logg": "logg_cgs",
    "star_radius_rsun": "radius_rsun",
    "star_mass_msun": "mass_msun",
    "planet_radius_earth": "planet_radius_rearth",
}

_DERIVED_SCALAR_NAMES: tuple[str, ...] = (
    "log_period",
    "log_depth",
    "log_snr",
    "duty_cycle",
    "duration_ratio_expected",
    "radius_from_depth_earth",
)

_VIEW_FEATURE_NAMES: tuple[str, ...] = (
    "lv_depth",
    "lv_width_half",
    "lv_width_quarter",
    "lv_flatness",
    "lv_asymmetry",
    "lv_oot_std",
    "lv_snr",
    "gv_depth",
    "gv_oot_std",
    "gv_oot_mad",
    "gv_snr",
    "gv_secondary_depth",
    "gv_secondary_phase",
    "gv_secondary_ratio",
    "gv_secondary_snr",
    "gv_max",
    "gv_frac_below_half",
    "gv_cos1",
    "gv_cos2",
    "gv_sin1",
    "gv_n_dips",
    "gv_lv_depth_ratio",
)

#: Columns of the downsampled global view in the design matrix.
GLOBAL_VIEW_COLUMNS = math.ceil(GLOBAL_VIEW_BINS / GLOBAL_DOWNSAMPLE)

#: Width of the block that ends every row of the design matrix: the view-shape features, the
#: downsampled global view and the local view (:func:`feature_names_for`).
VIEW_BLOCK_WIDTH = len(_VIEW_FEATURE_NAMES) + GLOBAL_VIEW_COLUMNS + LOCAL_VIEW_BINS


@dataclass(frozen=True)
class CandidateRecord:
    """Everything the classifier knows about one transit candidate.

    Parameters
    ----------
    candidate_id : str
        Stable key of the candidate (e.g. ``TIC201291168-R3594``, ``K00752.01``).
    group : str or int
        Star identifier (TIC id, KIC id). Cross-validation never splits a star.
    global_view : ndarray of shape (201,), optional
        Whole orbit folded and binned, phase -0.5..0.5, transit at the centre, normalised so the
        out-of-transit median is 0 and the transit minimum is about -1.
    local_view : ndarray of shape (61,), optional
        About +/- two transit durations around the transit, same normalisation.
    scalars : mapping of str to float
        Catalog values and vetting metrics, keyed by name (see :data:`DEFAULT_SCALAR_NAMES`);
        missing keys and ``None`` become NaN.
    """

    candidate_id: str
    group: str | int
    global_view: np.ndarray | None = None
    local_view: np.ndarray | None = None
    scalars: Mapping[str, float | None] = field(default_factory=dict)


@dataclass
class Dataset:
    """A design matrix with ids, labels and star groups.

    Attributes
    ----------
    candidate_ids : ndarray of shape (n,), dtype object
    X : ndarray of shape (n, d), float64; NaN marks a missing value.
    feature_names : list of str, length d
    y : ndarray of shape (n,), dtype object, or None
        Class codes from :mod:`classifier.vocabulary`; ``None`` entries are unlabeled rows.
        ``y`` itself is None when the source has no label column at all.
    groups : ndarray of shape (n,), dtype object
        Star identifiers.
    """

    candidate_ids: np.ndarray
    X: np.ndarray
    feature_names: list[str]
    y: np.ndarray | None
    groups: np.ndarray

    @property
    def labeled_mask(self) -> np.ndarray:
        """Boolean mask (n,) of rows that carry a label (all False when ``y`` is None)."""
        if self.y is None:
            return np.zeros(len(self.candidate_ids), dtype=bool)
        return np.array([v is not None and v == v for v in self.y], dtype=bool)

    def subset(self, index: np.ndarray) -> Dataset:
        """Rows ``index`` (integer or boolean array) as a new :class:`Dataset`."""
        return Dataset(
            candidate_ids=self.candidate_ids[index],
            X=self.X[index],
            feature_names=list(self.feature_names),
            y=None if self.y is None else self.y[index],
            groups=self.groups[index],
        )


# --------------------------------------------------------------------------------------------
# Design matrix
# --------------------------------------------------------------------------------------------

def feature_names_for(scalar_names: Sequence[str] = DEFAULT_SCALAR_NAMES) -> list[str]:
    """Column names of :func:`design_matrix` for the given scalar names, in order."""
    return (
        list(scalar_names)
        + list(_DERIVED_SCALAR_NAMES)
        + list(_VIEW_FEATURE_NAMES)
        + [f"gv_{i:03d}" for i in range(GLOBAL_VIEW_COLUMNS)]
        + [f"lv_{i:02d}" for i in range(LOCAL_VIEW_BINS)]
    )


#: View-shape features that change sign when the views are read backwards (time-reversed);
#: every other view feature is unchanged by it (see :func:`mirror_views`).
_ODD_VIEW_FEATURES: tuple[str, ...] = ("lv_asymmetry", "gv_sin1")


def rows_with_views(X: np.ndarray) -> np.ndarray:
    """Boolean mask (n,) of the rows of a design matrix ``X`` (n, d) with any view bin present;
    all False when ``X`` is narrower than the view block (a matrix of other columns)."""
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[1] < VIEW_BLOCK_WIDTH:
        return np.zeros(len(X), dtype=bool)
    return np.isfinite(X[:, -(GLOBAL_VIEW_COLUMNS + LOCAL_VIEW_BINS):]).any(axis=1)


def mirror_views(X: np.ndarray) -> np.ndarray:
    """The design matrix of the same candidates with their views read backwards (time-reversed).

    A transit, an eclipse or a blend read backwards is still a signal of the same kind, so the
    mirrored rows are label-preserving training copies (augmentation). Works on the trailing
    block of :func:`feature_names_for` (view features, downsampled global view, local view), so
    it needs no column names; the catalog scalars and light-curve metrics before it are copied
    unchanged (they do not depend on the direction of time).

    Parameters
    ----------
    X : ndarray (n, d)
        Rows of :func:`design_matrix`; ``d`` must hold at least the view block.

    Returns
    -------
    ndarray (n, d)
        Equal to the design matrix built from the reversed global and local views.
    """
    X = np.asarray(X)
    n_global = GLOBAL_VIEW_COLUMNS
    if X.ndim != 2 or X.shape[1] < VIEW_BLOCK_WIDTH:
        raise ValueError(f"mirror_views needs rows ending with the {VIEW_BLOCK_WIDTH} view columns; "
                         f"got shape {X.shape}")
    start = X.shape[1] - VIEW_BLOCK_WIDTH
    out = X.copy()
    gv0 = start + len(_VIEW_FEATURE_NAMES)
    out[:, gv0:gv0 + n_global] = X[:, gv0:gv0 + n_global][:, ::-1]
    out[:, gv0 + n_global:] = X[:, gv0 + n_global:][:, ::-1]
    for name in _ODD_VIEW_FEATURES:
        out[:, start + _VIEW_FEATURE_NAMES.index(name)] *= -1
    return out


def scalar_names_from_feature_names(feature_names: Sequence[str]) -> list[str]:
    """Recover the ``scalar_names`` a design matrix was built with (e.g. from an artifact).

    Names are returned as stored (old names included): :func:`design_matrix` understands them,
    so the matrix gets the model's own column names back.
    """
    stop = list(feature_names).index(_DERIVED_SCALAR_NAMES[0])
    return list(feature_names[:stop])


def canonical_scalar_name(name: str) -> str:
    """Today's name of a scalar (:data:`RENAMED_SCALARS`); other names are returned unchanged."""
    return RENAMED_SCALARS.get(name, name)


def design_matrix(
    records: Sequence[CandidateRecord],
    scalar_names: Sequence[str] | None = None,
) -> tuple[np.ndarray, list[str]]:
    """Build the feature matrix shared by every caller.

    Parameters
    ----------
    records : sequence of CandidateRecord, length n
    scalar_names : sequence of str, optional
        Scalar features to take from ``record.scalars`` in this order (default
        :data:`DEFAULT_SCALAR_NAMES`). Pass the names stored with a model to score new rows.

    Returns
    -------
    X : ndarray of shape (n, d), float64
        Columns: scalars, derived scalars (logs, duty cycle, duration vs the duration expected
        for a planet, radius implied by the depth), summary features of the views (depth,
        width, shape, secondary eclipse, variability), the global view averaged over
        :data:`GLOBAL_DOWNSAMPLE` bins and the local view. Missing values are NaN; an absent
        view gives a NaN block.
    feature_names : list of str, length d

    Notes
    -----
    The records are only unpacked here (one dict lookup per scalar); every computation runs
    on whole arrays in :func:`design_matrix_from_arrays`.
    """
    names = list(DEFAULT_SCALAR_NAMES if scalar_names is None else scalar_names)
    n = len(records)
    # Derived scalars need these even when the caller's scalar_names leave them out.
    wanted = list(dict.fromkeys(names + list(_DERIVED_INPUTS)))
    if any(name in FLAG_SCALAR_NAMES for name in names):
        wanted = list(dict.fromkeys(wanted + [_flag_input_column(m) for m in FLAG_INPUT_NAMES]))
    scalars = {name: np.array([as_float(rec.scalars.get(canonical_scalar_name(name))) for rec in records],
                              dtype=np.float64).reshape(n)
               for name in wanted}
    global_views = _stack_views(records, "global_view", GLOBAL_VIEW_BINS)
    local_views = _stack_views(records, "local_view", LOCAL_VIEW_BINS)
    return design_matrix_from_arrays(scalars, global_views, local_views, scalar_names=names)


def design_matrix_from_arrays(
    scalars: Mapping[str, np.ndarray],
    global_views: np.ndarray | None,
    local_views: np.ndarray | None,
    *,
    scalar_names: Sequence[str] | None = None,
) -> tuple[np.ndarray, list[str]]:
    """The design matrix of :func:`design_matrix` from column arrays (vectorised).

    Parameters
    ----------
    scalars : mapping of str to ndarray of shape (n,)
        Scalar columns by name (float; NaN = missing). Names not given are NaN columns; a
        name of :data:`RENAMED_SCALARS` is looked up under its new name.
    global_views : ndarray of shape (n, 201) or None
        NaN rows mark absent views.
    local_views : ndarray of shape (n, 61) or None
    scalar_names : sequence of str, optional
        Order of the scalar columns (default :data:`DEFAULT_SCALAR_NAMES`).

    Returns
    -------
    X : ndarray of shape (n, d), float64
    feature_names : list of str, length d
    """
    names = list(DEFAULT_SCALAR_NAMES if scalar_names is None else scalar_names)
    feature_names = feature_names_for(names)
    n = _n_rows(scalars, global_views, local_views)
    gv = _views_or_nan(global_views, n, GLOBAL_VIEW_BINS, "global_views")
    lv = _views_or_nan(local_views, n, LOCAL_VIEW_BINS, "local_views")

    flag_block: dict[str, np.ndarray] = {}

    def column(name: str) -> np.ndarray:
        key = name if name in scalars else canonical_scalar_name(name)
        if name in FLAG_SCALAR_NAMES:  # always derived (a caller's column of them would be NaN)
            if not flag_block:
                flag_block.update(_flag_columns({m: column(_flag_input_column(m)) for m in FLAG_INPUT_NAMES}, n))
            return flag_block[name]
        if key not in scalars:
            return np.full(n, np.nan)
        col = np.asarray(scalars[key], dtype=np.float64).reshape(-1)
        if col.shape != (n,):
            raise ValueError(f"scalar {name!r} has {col.size} values; expected {n}")
        return np.where(np.isfinite(col), col, np.nan)

    blocks = [
        np.column_stack([column(name) for name in names]) if names else np.zeros((n, 0)),
        _derived_scalars(column),
        _view_features(gv, lv),
        _downsample(gv, GLOBAL_DOWNSAMPLE),
        lv,
    ]
    X = np.hstack(blocks).astype(np.float64, copy=False)
    if X.shape[1] != len(feature_names):  # a programming error, never the caller's data
        raise AssertionError(f"design matrix has {X.shape[1]} columns for {len(feature_names)} names")
    return X, feature_names


def _flag_input_column(metric: str) -> str:
    """The scalar column holding the vetting metric ``metric`` (``lc_<metric>``; catalog
    pass-through values under their own name)."""
    return metric if metric in PASS_THROUGH_NAMES else f"lc_{metric}"


def _flag_columns(inputs: Mapping[str, np.ndarray], n: int) -> dict[str, np.ndarray]:
    """``flag_<name>`` columns (n,) from the flags' input metric columns: 1 failed, 0 passed,
    NaN not computable. One :func:`classifier.flags.evaluate` per row on which some flag may be
    computable (:func:`classifier.flags.maybe_computable`; flags are plain rules on a few
    numbers, a few microseconds each)."""
    out = {name: np.full(n, np.nan) for name in FLAG_SCALAR_NAMES}
    # Rows lacking what every flag requires (no light curve: most of a catalog) stay NaN.
    for i in np.flatnonzero(flags_maybe_computable(inputs)).tolist():
        row = {m: float(col[i]) for m, col in inputs.items()}
        for result in evaluate_flags(row):
            if result.passed is not None:
                out[f"flag_{result.name}"][i] = 0.0 if result.passed else 1.0
    return out


#: Scalars that the derived columns are computed from (taken even when the caller's
#: ``scalar_names`` leave them out).
_DERIVED_INPUTS = ("period_days", "duration_hours", "depth_ppm", "snr", "radius_rsun", "mass_msun", "logg_cgs")


def _n_rows(scalars, global_views, local_views) -> int:
    for views in (global_views, local_views):
        if views is not None:
            return len(views)
    for col in scalars.values():
        return len(np.asarray(col).reshape(-1))
    return 0


def _views_or_nan(views, n: int, n_bins: int, name: str) -> np.ndarray:
    """Views as float64 (n, n_bins); rows with no finite bin become all-NaN (absent view)."""
    if views is None:
        return np.full((n, n_bins), np.nan)
    arr = np.asarray(views, dtype=np.float64)
    if arr.shape != (n, n_bins):
        raise ValueError(f"{name} must have shape ({n}, {n_bins}); got {arr.shape}")
    arr = np.where(np.isfinite(arr), arr, np.nan)
    return arr


def _stack_views(records: Sequence[CandidateRecord], attr: str, n_bins: int) -> np.ndarray:
    out = np.full((len(records), n_bins), np.nan)
    for i, rec in enumerate(records):
        view = getattr(rec, attr)
        if view is None:
            continue
        arr = np.asarray(view, dtype=np.float64).ravel()
        if arr.shape != (n_bins,):
            raise ValueError(f"{attr} of candidate {rec.candidate_id!r} has {arr.size} bins; expected {n_bins}")
        out[i] = arr
    return out


def as_float(value) -> float:
    """A scalar cell as float: NaN when missing, not a number (text, dicts) or not finite."""
    if value is None:
        return np.nan
    try:
        out = float(value)
    except (TypeError, ValueError):
        return np.nan
    return out if math.isfinite(out) else np.nan


def _downsample(views: np.ndarray, factor: int) -> np.ndarray:
    """Mean over ``factor`` adjacent bins, (n, b) -> (n, ceil(b / factor)); NaN bins ignored."""
    n, b = views.shape
    pad = (-b) % factor
    padded = np.concatenate([views, np.full((n, pad), np.nan)], axis=1) if pad else views
    return _nanmean(padded.reshape(n, -1, factor), axis=2)


def _nanmean(a: np.ndarray, axis) -> np.ndarray:
    """``np.nanmean`` without the all-NaN warning (all-NaN slices give NaN)."""
    ok = np.isfinite(a)
    count = ok.sum(axis=axis)
    total = np.where(ok, a, 0.0).sum(axis=axis)
    with np.errstate(all="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def _nanstd(a: np.ndarray, axis) -> np.ndarray:
    mean = _nanmean(a, axis)
    dev = a - np.expand_dims(mean, axis)
    return np.sqrt(_nanmean(dev * dev, axis))


def _nanreduce(func, a: np.ndarray, axis) -> np.ndarray:
    """``np.nanmin``/``nanmax``/``nanmedian`` quietly (all-NaN slices give NaN)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return func(a, axis=axis)


def _derived_scalars(column) -> np.ndarray:
    """Derived columns (n, 6) from scalar columns; ``column(name)`` returns an (n,) array."""
    period = column("period_days")
    duration_h = column("duration_hours")
    depth = column("depth_ppm")
    snr = column("snr")
    r_star = column("radius_rsun")
    m_star = column("mass_msun")
    logg = column("logg_cgs")
    with np.errstate(all="ignore"):
        pos_p, pos_d = period > 0, depth > 0
        log_period = np.where(pos_p, np.log10(np.where(pos_p, period, 1.0)), np.nan)
        log_depth = np.where(pos_d, np.log10(np.where(pos_d, depth, 1.0)), np.nan)
        log_snr = np.where(snr > 0, np.log10(np.where(snr > 0, snr, 1.0)), np.nan)
        duty = np.where(pos_p, duration_h / 24.0 / period, np.nan)
        # Stellar density [solar]: from mass and radius, else from logg and radius; the
        # duration of a central transit of a small planet is ~13 h (P/365 d)^(1/3) rho^(-1/3).
        # Eclipsing binaries and blends often have durations far from this.
        m_from_logg = 10 ** (logg - 4.438) * r_star**2
        m_star = np.where(np.isfinite(m_star), m_star, m_from_logg)
        rho = np.where((r_star > 0) & (m_star > 0), m_star / r_star**3, 1.0)
        expected = np.where(pos_p, 13.0 * (np.abs(period) / 365.25) ** (1 / 3) * rho ** (-1 / 3), np.nan)
        ratio = np.where(expected > 0, duration_h / expected, np.nan)
        radius = np.where(pos_d & (r_star > 0), np.sqrt(np.abs(depth) * 1e-6) * r_star * 109.1, np.nan)
    return np.column_stack([log_period, log_depth, log_snr, duty, ratio, radius])


#: Phase of each global-view bin, -0.5..0.5.
# Exactly symmetric about 0 (linspace is not, at the last bit: one of the bins at |phase| = 0.05
# fell on each side of the cut), so reversing a view reverses its features (mirror_views).
_PHASE = (np.arange(GLOBAL_VIEW_BINS) - GLOBAL_VIEW_BINS // 2) / (GLOBAL_VIEW_BINS - 1)


def _view_features(gv: np.ndarray, lv: np.ndarray) -> np.ndarray:
    """Cheap shape features of the views, (n, len(_VIEW_FEATURE_NAMES)); NaN when a view is absent.

    Parameters
    ----------
    gv : ndarray (n, 201), NaN rows = absent global view
    lv : ndarray (n, 61), NaN rows = absent local view
    """
    n = len(gv)
    # The harmonics' dot products (BLAS) depend on a row's place in the matrix at the last bit:
    # taken on every row as given, so a row's value does not depend on which rows have views.
    harmonics = _harmonics(gv)
    present = np.isfinite(gv).any(axis=1) | np.isfinite(lv).any(axis=1)
    if present.all():
        return _view_features_rows(gv, lv, harmonics)
    # A catalog's candidates mostly have no light curve: the NaN medians of their empty views
    # would cost more than the rest of the matrix, and a row with neither view is all NaN.
    out = np.full((n, len(_VIEW_FEATURE_NAMES)), np.nan)
    rows = np.flatnonzero(present)
    if len(rows) == 1 and n > 1:
        # numpy sums a lone row (contiguous: pairwise) in another order than a row of a
        # many-row matrix: keep a second row, so the values equal those of the whole matrix.
        rows = np.array(sorted({int(rows[0]), 0 if rows[0] else 1}))
    if len(rows):
        out[rows] = _view_features_rows(gv[rows], lv[rows], harmonics[rows])
    return out


def _harmonics(gv: np.ndarray) -> np.ndarray:
    """cos(2 pi phase), cos(4 pi phase), sin(2 pi phase) components of the out-of-transit global
    view, (n, 3); NaN where fewer than 6 bins are usable."""
    ok = np.isfinite(gv) & (np.abs(_PHASE) > 0.05)[None, :]
    n_ok = ok.sum(axis=1)
    w = np.where(ok, gv, 0.0)
    basis = [np.cos(2 * np.pi * _PHASE), np.cos(4 * np.pi * _PHASE), np.sin(2 * np.pi * _PHASE)]
    with np.errstate(all="ignore"):
        return np.column_stack([np.where(n_ok > 5, 2 * (w @ h) / np.maximum(n_ok, 1), np.nan) for h in basis])


def _view_features_rows(gv: np.ndarray, lv: np.ndarray, harmonics: np.ndarray) -> np.ndarray:
    """:func:`_view_features` of the given rows, their :func:`_harmonics` given."""
    n = len(gv)
    out = np.full((n, len(_VIEW_FEATURE_NAMES)), np.nan)
    has_lv = np.isfinite(lv).any(axis=1)
    has_gv = np.isfinite(gv).any(axis=1)
    with np.errstate(all="ignore"):
        c = LOCAL_VIEW_BINS // 2
        depth = -_nanreduce(np.nanmin, lv[:, c - 4:c + 5], 1)
        oot_std = _nanstd(np.concatenate([lv[:, :8], lv[:, -8:]], axis=1), 1)
        pos = depth > 0
        # NaN bins compare False, as in a per-row sum.
        half = np.where(pos, (lv < -0.5 * depth[:, None]).sum(axis=1), 0.0)
        quarter = np.where(pos, (lv < -0.25 * depth[:, None]).sum(axis=1), 0.0)
        # U-shaped (planet) transits are flat-bottomed; V-shaped (grazing EB) are not.
        flat = np.where(pos, -_nanmean(lv[:, c - 2:c + 3], 1) / depth, np.nan)
        asym = _nanmean(lv[:, c - 10:c], 1) - _nanmean(lv[:, c + 1:c + 11], 1)
        lv_block = np.column_stack([depth, half, quarter, flat, asym, oot_std, depth / (oot_std + 1e-3)])
        out[:, 0:7] = np.where(has_lv[:, None], lv_block, np.nan)

        cg = GLOBAL_VIEW_BINS // 2
        depth_g = -_nanreduce(np.nanmin, gv[:, cg - 5:cg + 6], 1)
        oot_mask = np.abs(_PHASE) > 0.05
        oot = gv[:, oot_mask]
        oot_std_g = _nanstd(oot, 1)
        med = _nanreduce(np.nanmedian, oot, 1)
        oot_mad = 1.4826 * _nanreduce(np.nanmedian, np.abs(oot - med[:, None]), 1)
        # Secondary eclipse: deepest 3-bin running mean away from the primary (|phase| > 0.1).
        # Circular smoothing: a secondary at phase 0.5 is split between both ends of the view.
        filled = np.where(np.isfinite(gv), gv, 0.0)
        smooth = (np.roll(filled, 1, axis=1) + filled + np.roll(filled, -1, axis=1)) / 3
        far = np.flatnonzero(np.abs(_PHASE) > 0.1)
        j = far[np.argmin(smooth[:, far], axis=1)]
        sec_depth = -smooth[np.arange(n), j]
        sec_ratio = np.where(depth_g > 0, sec_depth / depth_g, np.nan)
        sec_snr = sec_depth / (oot_mad / np.sqrt(3) + 1e-3)
        cos1, cos2, sin1 = harmonics.T
        # No measurable primary (NaN depth): no bin counts as a dip.
        threshold = np.where(np.isnan(depth_g), np.nan, -0.5 * np.fmax(depth_g, 1e-6))
        below = gv < threshold[:, None]
        # Number of separate dips deeper than half the primary: >1 suggests variability.
        n_dips = (np.diff(below.astype(np.int8), axis=1) == 1).sum(axis=1) + below[:, 0]
        gv_block = np.column_stack([
            depth_g, oot_std_g, oot_mad, depth_g / (oot_mad + 1e-3), sec_depth,
            np.abs(_PHASE[j]), sec_ratio, sec_snr, _nanreduce(np.nanmax, gv, 1), below.mean(axis=1),
            cos1, cos2, sin1, n_dips.astype(float),
        ])
        out[:, 7:21] = np.where(has_gv[:, None], gv_block, np.nan)
        both = has_gv & has_lv & (out[:, 0] > 0)
        out[:, 21] = np.where(both, out[:, 7] / out[:, 0], np.nan)
    return out
