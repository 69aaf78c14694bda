"""Table-level vetting features: what a candidate's neighbours in its catalog table say about it.

A vetting astronomer never looks at a threshold-crossing event (TCE) or a KOI/TOI alone. These
features are computed from a whole catalog table (every row of a Kepler TCE/KOI or TESS TOI/TCE
table, labels never used), so the same function serves the command line, the benchmarks and the
site's catalog imports:

``tbl_n_on_star``
    Number of rows on the same star (the row itself included). Multi-candidate systems are mostly
    planets (Lissauer et al. 2012, ApJ 750, 112; Coughlin et al. 2014: 2.4% contamination among
    multis against 16% among singles).
``tbl_candidate_number``
    The row's number on its star as the table gives it (``tce_plnt_num``; the ``.NN`` suffix of a
    KOI or TOI name). The Kepler pipeline removes the strongest signal first, so late numbers are
    more often noise or an alias of an earlier signal.
``tbl_sibling_period_ratio``
    Smallest period ratio (>= 1) to another candidate on the same star [dimensionless]. Two
    planets with a ratio below ~1.2 are rarely stable; such pairs are usually one signal twice.
``tbl_sibling_ratio_offset``
    Smallest ``|R - round(R)|`` over siblings, with R the period ratio (>= 1, up to
    :data:`MAX_ALIAS_RATIO`) [dimensionless]: 0 means an exact integer ratio.
``tbl_sibling_alias``
    1 when a sibling's period is an integer multiple or fraction of this one (within
    :data:`PERIOD_SIGMA` combined period errors) and the transits coincide in time: the same
    signal found twice (e.g. an eclipsing binary at half or double its period); else 0 (NaN for a
    star with a single candidate).
``tbl_sibling_secondary``
    1 when a sibling has the same period and its epoch is half a period away (+/- the transit
    duration): the secondary eclipse of an eclipsing binary detected as a second event.
``tbl_ephem_matches``
    Number of rows on *other* stars whose period matches (ratio 1, 2 or 1/2 within
    :data:`PERIOD_SIGMA` combined errors) and whose transits coincide in time: the ephemeris match
    of Coughlin et al. 2014 (AJ 147, 119), which flags contamination by a bright star's signal
    (direct PRF overlap, CCD crosstalk, column anomalies, reflections).
``tbl_ephem_match_sig``
    ``-log10`` Poisson probability of at least that many matches by chance, given how many
    other-star rows have a matching period and the fraction of the orbit the epoch window covers.
``tbl_period_excess``
    How crowded the table is at this period: other-star rows within a relative period tolerance of
    :data:`CROWDING_REL_TOL` against the number expected from the local density in log period
    (+/- :data:`CROWDING_WINDOW_DEX`). Instrumental signals (and a contaminating source) pile up at
    one period; planets do not.
``tbl_instrumental_sigma``
    Distance from the nearest known instrumental period or harmonic (:data:`INSTRUMENTAL_PERIODS`)
    in units of ``max(period error, INSTRUMENTAL_REL_WIDTH x period)``.

Periods in days, epochs in days in the table's own time system (only differences are used),
durations in hours. Nothing here imports Django.
"""
from __future__ import annotations

import math
import re
from collections.abc import Mapping

import numpy as np

from classifier import catalogs

#: Column names, in order.
TABLE_FEATURE_NAMES: tuple[str, ...] = (
    "tbl_n_on_star",
    "tbl_candidate_number",
    "tbl_sibling_period_ratio",
    "tbl_sibling_ratio_offset",
    "tbl_sibling_alias",
    "tbl_sibling_secondary",
    "tbl_ephem_matches",
    "tbl_ephem_match_sig",
    "tbl_period_excess",
    "tbl_instrumental_sigma",
)

#: A period match is within this many combined period errors ...
PERIOD_SIGMA = 5.0
#: ... and never tighter than this relative tolerance (catalog period errors can be 1e-7 d, while
#: the same signal measured on two stars or as an alias differs by more).
MIN_PERIOD_REL_TOL = 2e-5
#: ... nor looser than this one (a huge quoted error must not make everything match).
MAX_PERIOD_REL_TOL = 1e-3
#: Integer ratios tried between siblings (Coughlin et al. 2014 tried up to 50 between stars).
MAX_ALIAS_RATIO = 50
#: Epochs coincide when the transits overlap: offset <= half the summed durations, or this many
#: combined epoch errors.
EPOCH_SIGMA = 3.0
#: Used when a row has no duration [hours].
DEFAULT_DURATION_HOURS = 3.0
#: Relative period tolerance of the crowding count, and the half-width of the density window [dex].
CROWDING_REL_TOL = 1e-3
CROWDING_WINDOW_DEX = 0.1
#: Relative width of an instrumental period (they are not exact).
INSTRUMENTAL_REL_WIDTH = 0.005
#: Harmonics tried for every instrumental period: P_inst x k and P_inst / k.
INSTRUMENTAL_HARMONICS = (1, 2, 3, 4)

#: Known instrumental periods [days], per mission.
#:
#: Kepler (Kepler Data Characteristics Handbook, KSCI-19040, Sections 4.5, 5.2-5.3, 5.15; Seader
#: et al. 2015, ApJS 217, 18; Thompson et al. 2018, ApJS 235, 38):
#: 372.5 d heliocentric orbit (the focal plane returns to the same season: rolling-band and
#: thermal patterns repeat yearly), 93.1 d quarter (roll to keep the solar panels on the Sun),
#: ~3 d reaction-wheel momentum desaturations (and the Q1-Q3 heater-cycle focus changes they
#: drove), ~32 d monthly science downlinks (thermal transients after each pointing to Earth), and
#: the 2.9 d and 18.3 d variable fine-guidance stars of Q0-Q2.
#: TESS (TESS Instrument Handbook; Guerrero et al. 2021, ApJS 254, 39): the 13.7 d orbit (momentum
#: dumps and scattered light from Earth and Moon repeat each orbit), the 27.4 d sector, and the
#: ~1 d scattered-light alias.
INSTRUMENTAL_PERIODS: dict[str, tuple[float, ...]] = {
    "kepler": (372.5, 93.1, 3.0, 32.0, 2.9, 18.3),
    "tess": (13.7, 27.4, 1.0),
}

#: Mission of each catalog table (:data:`classifier.catalogs.TABLE_NAMES`).
TABLE_MISSIONS: dict[str, str] = {"koi": "kepler", "dr24_tce": "kepler", "dr25_tce": "kepler", "toi": "tess"}


def table_features(
    star_ids: np.ndarray,
    period_days: np.ndarray,
    epoch_days: np.ndarray,
    *,
    period_err_days: np.ndarray | None = None,
    epoch_err_days: np.ndarray | None = None,
    duration_hours: np.ndarray | None = None,
    candidate_number: np.ndarray | None = None,
    mission: str | None = None,
) -> dict[str, np.ndarray]:
    """The table-level features (:data:`TABLE_FEATURE_NAMES`) of every row of a catalog table.

    Parameters
    ----------
    star_ids : ndarray of shape (n,)
        Star of each row (KIC / TIC id; any hashable values).
    period_days : ndarray of shape (n,)
        Orbital period [days]; NaN or <= 0 = unknown (the row gets NaN period features).
    epoch_days : ndarray of shape (n,)
        Transit epoch [days], all rows in one time system (BKJD, BJD, BTJD).
    period_err_days, epoch_err_days : ndarray of shape (n,), optional
        1-sigma errors [days]; NaN or absent use :data:`MIN_PERIOD_REL_TOL` and the duration.
    duration_hours : ndarray of shape (n,), optional
        Transit duration [hours]; NaN uses :data:`DEFAULT_DURATION_HOURS`.
    candidate_number : ndarray of shape (n,), optional
        Number of the candidate on its star (``tce_plnt_num``, KOI/TOI suffix).
    mission : {"kepler", "tess"}, optional
        Selects :data:`INSTRUMENTAL_PERIODS`; None gives a NaN ``tbl_instrumental_sigma``.

    Returns
    -------
    dict of str to ndarray of shape (n,), float64
        One column per name of :data:`TABLE_FEATURE_NAMES`.
    """
    stars = np.asarray(star_ids, dtype=object).reshape(-1)
    n = len(stars)
    period = _floats(period_days, n)
    period = np.where(period > 0, period, np.nan)
    epoch = _floats(epoch_days, n)
    duration_d = _floats(duration_hours, n)
    duration_d = np.where(duration_d > 0, duration_d, DEFAULT_DURATION_HOURS) / 24.0
    p_err = _floats(period_err_days, n)
    p_err = np.where(np.isfinite(p_err) & (p_err >= 0), p_err, 0.0)
    t_err = _floats(epoch_err_days, n)
    t_err = np.where(np.isfinite(t_err) & (t_err >= 0), t_err, 0.0)

    out = {name: np.full(n, np.nan) for name in TABLE_FEATURE_NAMES}
    codes, star_index = _star_codes(stars)
    counts = np.bincount(star_index, minlength=len(codes)) if n else np.zeros(0, int)
    out["tbl_n_on_star"] = counts[star_index].astype(float) if n else np.zeros(0)
    out["tbl_candidate_number"] = _floats(candidate_number, n)
    ok = np.isfinite(period) & np.isfinite(epoch)
    _siblings(out, star_index, counts, period, epoch, duration_d, p_err, t_err, ok)
    _ephemeris_matches(out, star_index, period, epoch, duration_d, p_err, t_err, ok)
    out["tbl_instrumental_sigma"] = instrumental_sigma(period, p_err, mission)
    return out


def instrumental_sigma(period_days: np.ndarray, period_err_days: np.ndarray | None, mission: str | None) -> np.ndarray:
    """Distance (n,) of each period from the nearest instrumental period or harmonic, in units of
    ``max(period error, INSTRUMENTAL_REL_WIDTH x instrumental period)``; NaN without a mission or a
    period.

    Parameters
    ----------
    period_days, period_err_days : ndarray of shape (n,) [days]
    mission : {"kepler", "tess"} or None
    """
    period = np.asarray(period_days, dtype=float).reshape(-1)
    if mission not in INSTRUMENTAL_PERIODS:
        return np.full(len(period), np.nan)
    err = _floats(period_err_days, len(period))
    err = np.where(np.isfinite(err), err, 0.0)
    harmonics = np.array(sorted({p * k for p in INSTRUMENTAL_PERIODS[mission] for k in INSTRUMENTAL_HARMONICS}
                                | {p / k for p in INSTRUMENTAL_PERIODS[mission] for k in INSTRUMENTAL_HARMONICS}))
    width = np.maximum(err[:, None], INSTRUMENTAL_REL_WIDTH * harmonics[None, :])
    with np.errstate(invalid="ignore"):
        dist = np.abs(period[:, None] - harmonics[None, :]) / width
        return np.where(np.isfinite(period), dist.min(axis=1), np.nan)


def _floats(values, n: int) -> np.ndarray:
    if values is None:
        return np.full(n, np.nan)
    arr = np.asarray(values, dtype=float).reshape(-1)
    if arr.shape != (n,):
        raise ValueError(f"expected {n} values, got {arr.size}")
    return np.where(np.isfinite(arr), arr, np.nan)


def _star_codes(stars: np.ndarray) -> tuple[list, np.ndarray]:
    index: dict = {}
    codes = np.fromiter((index.setdefault(s, len(index)) for s in stars), dtype=np.int64, count=len(stars))
    return list(index), codes


def _period_tol(p_a: float, err_a: float, p_b: np.ndarray, err_b: np.ndarray) -> np.ndarray:
    """Period match tolerance [days]: PERIOD_SIGMA combined errors, clipped to the relative limits."""
    tol = PERIOD_SIGMA * np.sqrt(err_a**2 + err_b**2)
    return np.clip(tol, MIN_PERIOD_REL_TOL * p_a, MAX_PERIOD_REL_TOL * p_a)


def _phase_offset_days(t_a: float, t_b: np.ndarray, period: np.ndarray | float) -> np.ndarray:
    """|t_b - t_a| folded on ``period`` into [0, period/2] [days]."""
    phase = (t_b - t_a) / period
    return np.abs(phase - np.round(phase)) * period


def _siblings(out, star_index, counts, period, epoch, duration_d, p_err, t_err, ok) -> None:
    """Sibling columns, one loop over the multi-candidate stars."""
    multi = np.flatnonzero(counts[star_index] > 1)
    if multi.size == 0:
        return
    order = multi[np.argsort(star_index[multi], kind="stable")]
    bounds = np.flatnonzero(np.diff(star_index[order])) + 1
    for rows in np.split(order, bounds):
        rows = rows[ok[rows]]
        for i in rows:
            others = rows[rows != i]
            for name in ("tbl_sibling_alias", "tbl_sibling_secondary"):
                out[name][i] = 0.0
            if others.size == 0:
                continue
            ratio = np.maximum(period[i] / period[others], period[others] / period[i])
            out["tbl_sibling_period_ratio"][i] = ratio.min()
            near = np.round(ratio)
            usable = ratio <= MAX_ALIAS_RATIO + 0.5
            if usable.any():
                out["tbl_sibling_ratio_offset"][i] = np.abs(ratio - near)[usable].min()
            # Alias: the longer period is k x the shorter within the errors, transits coincide
            # on the shorter period.
            short = np.minimum(period[i], period[others])
            long_ = np.maximum(period[i], period[others])
            k = np.maximum(near, 1.0)
            err_short = np.where(period[others] <= period[i], p_err[others], p_err[i])
            err_long = np.where(period[others] <= period[i], p_err[i], p_err[others])
            tol = np.clip(PERIOD_SIGMA * np.sqrt((k * err_short) ** 2 + err_long**2),
                          MIN_PERIOD_REL_TOL * long_, MAX_PERIOD_REL_TOL * long_)
            same_period = (np.abs(long_ - k * short) <= tol) & usable
            window = np.maximum(0.5 * (duration_d[i] + duration_d[others]),
                                EPOCH_SIGMA * np.hypot(t_err[i], t_err[others]))
            offset = _phase_offset_days(epoch[i], epoch[others], short)
            if np.any(same_period & (offset <= window)):
                out["tbl_sibling_alias"][i] = 1.0
            half = np.abs(offset - 0.5 * short) <= window
            if np.any(same_period & (k == 1) & half):
                out["tbl_sibling_secondary"][i] = 1.0


def _ephemeris_matches(out, star_index, period, epoch, duration_d, p_err, t_err, ok) -> None:
    """Ephemeris matches with other stars' rows (ratios 1, 2, 1/2), their chance significance,
    and the period crowding; rows sorted by period, each searched in a window (O(n log n))."""
    idx = np.flatnonzero(ok)
    out["tbl_ephem_matches"][idx] = 0.0
    if idx.size == 0:
        return
    sort = idx[np.argsort(period[idx], kind="stable")]
    p_sorted = period[sort]
    log_sorted = np.log10(p_sorted)
    for i in idx:
        n_match = 0
        n_period = 0
        window_frac = 0.0
        for factor in (1.0, 2.0, 0.5):
            target = period[i] * factor
            lo = np.searchsorted(p_sorted, target * (1 - MAX_PERIOD_REL_TOL), "left")
            hi = np.searchsorted(p_sorted, target * (1 + MAX_PERIOD_REL_TOL), "right")
            cand = sort[lo:hi]
            cand = cand[star_index[cand] != star_index[i]]
            if cand.size == 0:
                continue
            err_i = p_err[i] * factor
            tol = _period_tol(target, err_i, period[cand], p_err[cand])
            cand = cand[np.abs(period[cand] - target) <= tol]
            if cand.size == 0:
                continue
            short = min(period[i], target)
            window = np.maximum(0.5 * (duration_d[i] + duration_d[cand]), EPOCH_SIGMA * np.hypot(t_err[i], t_err[cand]))
            offset = _phase_offset_days(epoch[i], epoch[cand], short)
            n_match += int(np.sum(offset <= window))
            n_period += cand.size
            window_frac += float(np.sum(np.minimum(2 * window / short, 1.0)))
        out["tbl_ephem_matches"][i] = n_match
        # Expected chance matches: each period-matching row falls in the epoch window with
        # probability 2 x window / period (uniform phases).
        out["tbl_ephem_match_sig"][i] = _poisson_sig(n_match, window_frac)
        # Crowding: rows within CROWDING_REL_TOL against the local log-period density.
        li = math.log10(period[i])
        near = _count_between(p_sorted, period[i] * (1 - CROWDING_REL_TOL), period[i] * (1 + CROWDING_REL_TOL)) - 1
        wide = _count_between(log_sorted, li - CROWDING_WINDOW_DEX, li + CROWDING_WINDOW_DEX) - 1
        expected = wide * (2 * math.log10(1 + CROWDING_REL_TOL)) / (2 * CROWDING_WINDOW_DEX)
        out["tbl_period_excess"][i] = (near + 1.0) / (expected + 1.0)


def _count_between(sorted_values: np.ndarray, lo: float, hi: float) -> int:
    return int(np.searchsorted(sorted_values, hi, "right") - np.searchsorted(sorted_values, lo, "left"))


def _poisson_sig(k: int, mu: float) -> float:
    """-log10 P(X >= k) for X ~ Poisson(mu); 0 for k = 0."""
    if k <= 0:
        return 0.0
    if mu <= 0:
        return 10.0  # a match where none could happen by chance: cap
    # P(X >= k) = 1 - sum_{j<k} e^-mu mu^j / j!
    term, cdf = math.exp(-mu), 0.0
    for j in range(k):
        cdf += term
        term *= mu / (j + 1)
    tail = max(1.0 - cdf, 1e-300)
    if tail < 1e-12:  # cancellation: use the first tail term
        tail = math.exp(-mu + k * math.log(mu) - math.lgamma(k + 1))
    return min(-math.log10(max(tail, 1e-300)), 10.0)


# --------------------------------------------------------------------------------------------
# Catalog tables
# --------------------------------------------------------------------------------------------

_SUFFIX = re.compile(r"\.(\d+)\s*$")


def candidate_number_from_name(names) -> np.ndarray:
    """The ``.NN`` suffix of KOI/TOI names (``K00752.01`` -> 1, ``1000.02`` -> 2) as floats (n,)."""
    out = []
    for name in names:
        match = _SUFFIX.search(str(name))
        out.append(float(match.group(1)) if match else np.nan)
    return np.array(out, dtype=float)


def archive_table_features(columns: Mapping[str, np.ndarray], table: str) -> dict[str, np.ndarray]:
    """:func:`table_features` of a NASA Exoplanet Archive table given its raw columns.

    Parameters
    ----------
    columns : mapping of archive column name to ndarray of shape (n,)
        The table's columns (a pandas DataFrame works); text columns are parsed.
    table : str
        :mod:`classifier.catalogs` table name (koi, dr24_tce, dr25_tce, toi).

    Returns
    -------
    dict of str to ndarray (n,)
        The :data:`TABLE_FEATURE_NAMES` columns.
    """
    spec = catalogs.TABLE_FEATURE_COLUMNS[table]
    star = np.asarray(columns[catalogs.STAR_ID_COLUMNS[table]], dtype=object)

    def num(key: str) -> np.ndarray | None:
        column = spec.get(key)
        if column is None or column not in columns:
            return None
        return np.array([_as_float(v) for v in np.asarray(columns[column], dtype=object)], dtype=float)

    number = num("candidate_number")
    if number is None and spec.get("candidate_name") in columns:
        number = candidate_number_from_name(columns[spec["candidate_name"]])
    return table_features(
        star, num("period_days"), num("epoch"), period_err_days=num("period_err_days"),
        epoch_err_days=num("epoch_err_days"), duration_hours=num("duration_hours"),
        candidate_number=number, mission=TABLE_MISSIONS.get(table))


def _as_float(value) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return np.nan
    return out if math.isfinite(out) else np.nan


__all__ = ["TABLE_FEATURE_NAMES", "INSTRUMENTAL_PERIODS", "archive_table_features", "candidate_number_from_name",
           "instrumental_sigma", "table_features"]
