"""Design matrix and dataset loaders for the vetting classifier.

One function, :func:`design_matrix`, turns candidates into the feature matrix used everywhere
(the command line, benchmarks and the Django site), so a model trained by one caller can score
rows built by another. Loaders read the two public formats the project supports:

* a directory in the Astronet-Triage layout (``candidates.csv`` + ``views.npz``), and
* NASA Exoplanet Archive tables (KOI cumulative, Kepler DR24 TCE, TESS TOI), with ``#`` comments.

Nothing here imports Django.
"""
from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from classifier import dispositions
from classifier.vocabulary import ASTRONET_TO_CLASS, validate_class

#: Number of phase bins of a global view (whole orbit, phase -0.5..0.5, transit at the centre).
GLOBAL_VIEW_BINS = 201
#: Number of phase bins of a local view (about +/- two transit durations around the transit).
LOCAL_VIEW_BINS = 61
#: Global views are averaged over this many adjacent bins before entering the design matrix:
#: trees gain nothing from 201 highly correlated pixels and fits get ~3x cheaper.
GLOBAL_DOWNSAMPLE = 3

#: Scalar features in their fixed order (catalog values and light-curve vetting metrics).
#: Units: period [days], duration [hours], depth [ppm], radii [R_sun] / [R_earth], teff [K].
DEFAULT_SCALAR_NAMES: tuple[str, ...] = (
    "period_days",
    "duration_hours",
    "depth_ppm",
    "snr",
    "impact",
    "ingress_fraction",
    "magnitude",
    "teff",
    "logg",
    "star_radius_rsun",
    "star_mass_msun",
    "planet_radius_earth",
    "is_multi",
)

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
    n_global = math.ceil(GLOBAL_VIEW_BINS / GLOBAL_DOWNSAMPLE)
    return (
        list(scalar_names)
        + list(_DERIVED_SCALAR_NAMES)
        + list(_VIEW_FEATURE_NAMES)
        + [f"gv_{i:03d}" for i in range(n_global)]
        + [f"lv_{i:02d}" for i in range(LOCAL_VIEW_BINS)]
    )


def scalar_names_from_feature_names(feature_names: Sequence[str]) -> list[str]:
    """Recover the ``scalar_names`` a design matrix was built with (e.g. from an artifact)."""
    stop = feature_names.index(_DERIVED_SCALAR_NAMES[0])
    return list(feature_names[:stop])


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
    scalars = {name: np.array([_as_float(rec.scalars.get(name)) for rec in records], dtype=np.float64).reshape(n)
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
        Scalar columns by name (float; NaN = missing). Names not given are NaN columns.
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

    def column(name: str) -> np.ndarray:
        if name not in scalars:
            return np.full(n, np.nan)
        col = np.asarray(scalars[name], dtype=np.float64).reshape(-1)
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


#: Scalars that the derived columns are computed from.
_DERIVED_INPUTS = ("period_days", "duration_hours", "depth_ppm", "snr", "star_radius_rsun", "star_mass_msun", "logg")


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


def _as_float(value) -> float:
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
    r_star = column("star_radius_rsun")
    m_star = column("star_mass_msun")
    logg = column("logg")
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
_PHASE = np.linspace(-0.5, 0.5, GLOBAL_VIEW_BINS)


def _view_features(gv: np.ndarray, lv: np.ndarray) -> np.ndarray:
    """Cheap shape features of the views, (n, len(_VIEW_FEATURE_NAMES)); NaN when a view is absent.

    Parameters
    ----------
    gv : ndarray (n, 201), NaN rows = absent global view
    lv : ndarray (n, 61), NaN rows = absent local view
    """
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
        ok = np.isfinite(gv) & oot_mask[None, :]
        n_ok = ok.sum(axis=1)
        w = np.where(ok, gv, 0.0)
        harmonics = [np.cos(2 * np.pi * _PHASE), np.cos(4 * np.pi * _PHASE), np.sin(2 * np.pi * _PHASE)]
        cos1, cos2, sin1 = (np.where(n_ok > 5, 2 * (w @ h) / np.maximum(n_ok, 1), np.nan) for h in harmonics)
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


# --------------------------------------------------------------------------------------------
# Loaders
# --------------------------------------------------------------------------------------------

ASTRONET_REQUIRED_COLUMNS = ("candidate_id", "tic_id")


def load_astronet_dir(path: str | Path, *, fine_labels: bool = False) -> Dataset:
    """Load a directory in the Astronet-Triage layout.

    Parameters
    ----------
    path : path
        Directory holding ``candidates.csv`` (one row per TCE: ``candidate_id``, ``tic_id``,
        catalog columns, optional ``label_4class``/``label_orig_6class``) and ``views.npz``
        (``candidate_id``, ``global_view`` (N, 201), ``local_view`` (N, 61)).
    fine_labels : bool
        If True and ``label_orig_6class`` is present, junk (J) is refined into V / IS / J.

    Returns
    -------
    Dataset
        ``y`` holds class codes (PC, EB, J; O maps to J) or None when no label column exists.

    Raises
    ------
    FileNotFoundError, ValueError
        Missing files, missing columns, or views that do not match the CSV rows.
    """
    path = Path(path)
    csv_path, npz_path = path / "candidates.csv", path / "views.npz"
    for p in (csv_path, npz_path):
        if not p.exists():
            raise FileNotFoundError(f"{p} not found: an Astronet-layout directory needs candidates.csv and views.npz")
    table = pd.read_csv(csv_path, comment=None)
    missing = [c for c in ASTRONET_REQUIRED_COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"{csv_path} lacks required column(s): {', '.join(missing)}")
    with np.load(npz_path, allow_pickle=False) as npz:
        for key in ("candidate_id", "global_view", "local_view"):
            if key not in npz.files:
                raise ValueError(f"{npz_path} lacks array {key!r} (has {', '.join(npz.files)})")
        view_ids = npz["candidate_id"].astype(str)
        global_views = npz["global_view"]
        local_views = npz["local_view"]
    if len(view_ids) != len(table) or len(global_views) != len(table) or len(local_views) != len(table):
        raise ValueError(
            f"{npz_path} holds {len(view_ids)} candidates but {csv_path} has {len(table)} rows; "
            "they must describe the same candidates"
        )
    ids = table["candidate_id"].astype(str).to_numpy()
    if not np.array_equal(ids, view_ids):
        # Same candidates in another order is fine; anything else is an error.
        position = {cid: k for k, cid in enumerate(view_ids)}
        try:
            order = np.array([position[cid] for cid in ids])
        except KeyError as exc:
            raise ValueError(f"candidate {exc.args[0]!r} of {csv_path} has no views in {npz_path}") from None
        global_views, local_views = global_views[order], local_views[order]
    if global_views.shape[1:] != (GLOBAL_VIEW_BINS,) or local_views.shape[1:] != (LOCAL_VIEW_BINS,):
        raise ValueError(
            f"{npz_path}: global_view must be (N, {GLOBAL_VIEW_BINS}) and local_view (N, {LOCAL_VIEW_BINS}); "
            f"got {global_views.shape} and {local_views.shape}"
        )

    def col(name: str) -> np.ndarray:
        return pd.to_numeric(table[name], errors="coerce").to_numpy(float) if name in table else np.full(len(table), np.nan)

    scalar_columns = {
        "period_days": col("period_days"),
        "duration_hours": col("duration_days") * 24.0,
        "depth_ppm": col("transit_depth_ppm"),
        "snr": col("snr"),
        "ingress_fraction": col("qingress"),
        "magnitude": col("tmag"),
        "teff": col("teff"),
        "logg": col("logg"),
        "star_radius_rsun": col("star_rad"),
        "star_mass_msun": col("star_mass"),
        "is_multi": col("is_multi"),
    }
    records = [
        CandidateRecord(
            candidate_id=ids[i],
            group=str(table["tic_id"].iloc[i]),
            global_view=global_views[i],
            local_view=local_views[i],
            scalars={k: v[i] for k, v in scalar_columns.items()},
        )
        for i in range(len(table))
    ]
    X, names = design_matrix(records)
    y = _astronet_labels(table, fine_labels)
    return Dataset(ids.astype(object), X, names, y, table["tic_id"].astype(str).to_numpy(dtype=object))


def _astronet_labels(table: pd.DataFrame, fine_labels: bool) -> np.ndarray | None:
    if "label_4class" not in table.columns:
        return None
    y = np.array([_map_label(v, ASTRONET_TO_CLASS) for v in table["label_4class"]], dtype=object)
    if fine_labels and "label_orig_6class" in table.columns:
        fine = np.array([_map_label(v, ASTRONET_TO_CLASS) for v in table["label_orig_6class"]], dtype=object)
        refine = (y == "J") & np.isin(fine, ["V", "IS", "J"])
        y[refine] = fine[refine]
    return y


def _map_label(value, mapping: Mapping[str, str]) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    key = str(value).strip()
    if key == "":
        return None
    if key not in mapping:
        return None
    return validate_class(mapping[key])


def read_archive_csv(path: str | Path) -> pd.DataFrame:
    """Read a NASA Exoplanet Archive CSV export (lines starting with ``#`` are comments)."""
    return pd.read_csv(path, comment="#", low_memory=False)



_ARCHIVE_FORMATS = {
    # format: (detect column, id builder, group column, scalar column map)
    "dr24": ("av_training_set", "kepid", {
        "period_days": "tce_period", "duration_hours": "tce_duration", "depth_ppm": "tce_depth",
        "snr": "tce_model_snr", "impact": "tce_impact", "teff": "tce_steff", "logg": "tce_slogg",
        "star_radius_rsun": "tce_sradius", "planet_radius_earth": "tce_prad",
    }),
    "koi": ("koi_disposition", "kepid", {
        "period_days": "koi_period", "duration_hours": "koi_duration", "depth_ppm": "koi_depth",
        "snr": "koi_model_snr", "impact": "koi_impact", "magnitude": "koi_kepmag", "teff": "koi_steff",
        "logg": "koi_slogg", "star_radius_rsun": "koi_srad", "planet_radius_earth": "koi_prad",
    }),
    "toi": ("tfopwg_disp", "tid", {
        "period_days": "pl_orbper", "duration_hours": "pl_trandurh", "depth_ppm": "pl_trandep",
        "magnitude": "st_tmag", "teff": "st_teff", "logg": "st_logg", "star_radius_rsun": "st_rad",
        "planet_radius_earth": "pl_rade",
    }),
}


def detect_archive_format(table: pd.DataFrame) -> str:
    """Return ``"dr24"``, ``"koi"`` or ``"toi"`` from the columns of an archive table."""
    if "av_training_set" in table.columns or "tce_plnt_num" in table.columns:
        return "dr24"
    if "koi_disposition" in table.columns or "koi_pdisposition" in table.columns or "kepoi_name" in table.columns:
        return "koi"
    if "tfopwg_disp" in table.columns or "toi" in table.columns:
        return "toi"
    raise ValueError(
        "unrecognised NASA Exoplanet Archive table: expected DR24 TCE (av_training_set, kepid, "
        "tce_plnt_num), KOI cumulative (kepoi_name, koi_disposition) or TOI (toi, tid, tfopwg_disp) columns; "
        f"got {', '.join(map(str, table.columns[:12]))}..."
    )


def load_archive_table(path: str | Path) -> Dataset:
    """Load a NASA Exoplanet Archive table (KOI cumulative, DR24 TCE or TOI); tabular features only.

    Labels: DR24 ``av_training_set``, KOI ``koi_disposition`` (else ``koi_pdisposition``) with
    its false-positive flags, TOI ``tfopwg_disp``, mapped by :mod:`classifier.dispositions`
    (unlabeled rows are None). Groups are the star ids (``kepid`` / ``tid``). Views are absent,
    so their columns are NaN.
    """
    table = read_archive_csv(path)
    fmt = detect_archive_format(table)
    _, group_col, colmap = _ARCHIVE_FORMATS[fmt]
    required = {"dr24": ["kepid", "tce_plnt_num"], "koi": ["kepid", "kepoi_name"], "toi": ["toi", "tid"]}[fmt]
    missing = [c for c in required if c not in table.columns]
    if missing:
        raise ValueError(f"{path}: {fmt.upper()} table lacks required column(s): {', '.join(missing)}")
    if fmt == "dr24":
        ids = (table["kepid"].astype(str) + "-" + table["tce_plnt_num"].astype(str)).to_numpy()
    elif fmt == "koi":
        ids = table["kepoi_name"].astype(str).to_numpy()
    else:
        ids = table["toi"].astype(str).to_numpy()
    groups = table[group_col].astype(str).to_numpy(dtype=object)
    columns = {
        name: pd.to_numeric(table[src], errors="coerce").to_numpy(float)
        for name, src in colmap.items() if src in table.columns
    }
    records = [
        CandidateRecord(ids[i], groups[i], scalars={k: v[i] for k, v in columns.items()})
        for i in range(len(table))
    ]
    X, names = design_matrix(records)
    y = _archive_labels(table, fmt)
    return Dataset(ids.astype(object), X, names, y, groups)


def _archive_labels(table: pd.DataFrame, fmt: str) -> np.ndarray | None:
    """Labels from the archive dispositions, mapped by :mod:`classifier.dispositions` (the same
    rules the site's importers use); None when the table has no disposition column."""
    if fmt == "dr24":
        column = "av_training_set"
    elif fmt == "toi":
        column = "tfopwg_disp"
    else:
        column = next((c for c in ("koi_disposition", "koi_pdisposition") if c in table), None)
    if column is None or column not in table:
        return None
    values = table[column].where(table[column].notna(), "").astype(str)
    if fmt == "koi":
        rows = table.to_dict("records")
        return np.array([dispositions.koi_class(v, row) for v, row in zip(values, rows)], dtype=object)
    mapper = dispositions.dr24_class if fmt == "dr24" else dispositions.toi_class
    return np.array([mapper(v) for v in values], dtype=object)


def load_any(path: str | Path) -> Dataset:
    """Load ``path``: an Astronet-layout directory or a NASA Exoplanet Archive CSV file."""
    path = Path(path)
    if path.is_dir():
        return load_astronet_dir(path)
    if path.is_file():
        return load_archive_table(path)
    raise FileNotFoundError(f"{path} is neither an Astronet-layout directory nor a CSV file")
