"""Vetting flags: the published pass/fail tests applied to a candidate's vetting metrics.

Each :class:`Flag` reads one or more metrics of :func:`classifier.features.vetting_metrics`
(``Candidate.features``) and says whether the candidate passes a test with a threshold from
the Kepler Robovetter (DR25: Thompson et al. 2018, ApJS 235, 38; its source,
``Kepler-RoboVetter-DR25.cpp``; ModShift: Coughlin et al. 2016, ApJS 224, 12) or LEO-Vetter
(Kunimoto et al. 2025, AJ 169, 30; ``leo_vetter/thresholds.py``). Flags are computed from the
features; the site stores only which ones failed, as a bitmask (:func:`failed_mask`, bits
:data:`FLAG_BITS`) for filtering in SQL. They are also design-matrix columns
(``flag_<name>`` in :mod:`classifier.dataset`: 1 failed, 0 passed, NaN not computable).

``evaluate(features)`` returns one :class:`FlagResult` per flag, in :data:`FLAGS` order;
``passed`` is None when the metrics it needs are missing or NaN (e.g. no light curve, no
stellar parameters, no pixel data). ``failed_flags(features)`` lists the names that failed.

Groups: "signal" (is there a periodic transit at all), "shape", "eclipsing binary", "pixel",
"star".

Note for the candidate page: the strongest secondary found anywhere in phase is
``secondary_best_phase`` [cycles, 0..1, transit at 0], ``secondary_best_depth_ppm`` (with
``secondary_best_depth_err_ppm``) and ``secondary_best_sigma`` (correlated noise included);
the phase-0.5 box is ``secondary_depth_ppm`` / ``secondary_sigma``. Centre the secondary panel
on ``secondary_best_phase``.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
from scipy.special import erfcinv

#: Robovetter DR25 ModShift thresholds (``MOD_VAL4_DV_THRESH`` etc. in the DR25 source):
#: sigma_sec / F_red - sigma_FA1 > 1, sigma_sec - sigma_ter - sigma_FA2 > 0,
#: sigma_sec - sigma_pos - sigma_FA2 > 0.
MODSHIFT_SEC_FA1_MARGIN = 1.0
MODSHIFT_SEC_TER_MARGIN = 0.0
MODSHIFT_SEC_POS_MARGIN = 0.0
#: Number of TCEs in the look-elsewhere correction of sigma_FA1 (Coughlin et al. 2016: the
#: Kepler search's ~20,000 TCEs; LEO-Vetter keeps the same number).
N_TCE = 20000
#: LEO-Vetter ``odd_even``: |odd - even| / error > 3.
ODD_EVEN_SIGMA = 3.0
#: Robovetter DR25 ``SHAPE_THRESH``: impact parameter + radius ratio > 1.04 is a deep V.
V_SHAPE_MAX = 1.04
#: Kepler's detection threshold, used by the Robovetter for the re-computed MES (< 7.1 fails).
MIN_SNR = 7.1
#: LEO-Vetter ``invalid_transits``: fewer than 2 transits fails.
MIN_TRANSITS = 2
#: LEO-Vetter ``unphysical_duration``: a/R_* from the star < 2, or implied by the transit
#: duration (central transit, P / (pi T)) < 1.5, is not a planet's orbit.
MIN_A_OVER_RSTAR_STAR = 2.0
MIN_A_OVER_RSTAR_DURATION = 1.5
#: LEO-Vetter ``large``: a companion larger than 25 Earth radii is not a planet.
MAX_RADIUS_REARTH = 25.0
#: Robovetter planet-occultation exception (a secondary a planet could make): radius < 30 R_earth,
#: albedo < 1, secondary depth < 10% of the transit depth, impact parameter < 0.95 (DR25 source:
#: ``data[n].impact.val < 0.95``; a grazing eclipse is a star's, whatever its albedo says).
OCCULTATION_MAX_RADIUS_REARTH = 30.0
OCCULTATION_MAX_DEPTH_RATIO = 0.1
OCCULTATION_MAX_IMPACT = 0.95
#: Centroid offset significance above which the source is off target (Bryson et al. 2013,
#: PASP 125, 889: 3 sigma; the Robovetter's centroid module uses the same).
CENTROID_OFFSET_SIGMA = 3.0

GROUPS: tuple[str, ...] = ("signal", "shape", "eclipsing binary", "pixel", "star")

ROBOVETTER = "Thompson et al. 2018, ApJS 235, 38 (Kepler DR25 Robovetter)"
MODSHIFT = "Coughlin et al. 2016, ApJS 224, 12; Thompson et al. 2018 (Robovetter ModShift)"
LEO = "Kunimoto et al. 2025, AJ 169, 30 (LEO-Vetter)"


@dataclass(frozen=True)
class Flag:
    """One pass/fail test: ``passes(features) -> bool | None`` (None: not computable);
    ``metric`` is the feature shown beside it. ``requires``: the metrics without which
    ``passes`` is always None (a missing or NaN one), so a caller scoring many candidates can
    skip the rows that lack them (:func:`maybe_computable`)."""

    name: str
    group: str
    metric: str
    passes: Callable[[Mapping], bool | None]
    threshold_text: str
    reference: str
    requires: tuple[str, ...] = ()


@dataclass(frozen=True)
class FlagResult:
    """A flag applied to one candidate: ``value`` of its metric (None when absent/NaN),
    ``passed`` True/False or None (not computable)."""

    name: str
    group: str
    metric: str
    value: float | None
    passed: bool | None
    threshold_text: str
    reference: str


def _num(features: Mapping, key: str) -> float | None:
    """A finite float from ``features[key]``; None when absent, None or NaN."""
    value = features.get(key)
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def false_alarm_sigmas(period_days: float, duration_hours: float) -> tuple[float, float]:
    """ModShift's look-elsewhere thresholds (Coughlin et al. 2016):
    sigma_FA1 = sqrt(2) erfcinv(T / P / N_TCE) (a dip this significant appears by chance once among
    all TCEs' independent phases), sigma_FA2 = sqrt(2) erfcinv(T / P) (once among one light curve's
    P / T phases)."""
    q = duration_hours / 24.0 / period_days
    return float(math.sqrt(2) * erfcinv(q / N_TCE)), float(math.sqrt(2) * erfcinv(q))


def _snr(f: Mapping) -> bool | None:
    value = _num(f, "snr_red")
    return None if value is None else value >= MIN_SNR


def _n_transits(f: Mapping) -> bool | None:
    value = _num(f, "n_transits")
    return None if value is None else value >= MIN_TRANSITS


def _v_shape(f: Mapping) -> bool | None:
    value = _num(f, "impact_plus_radius_ratio")
    return None if value is None else value <= V_SHAPE_MAX


def _odd_even(f: Mapping) -> bool | None:
    sigma = _num(f, "odd_even_sigma")
    if sigma is None:
        return None
    odd, odd_err = _num(f, "odd_depth_ppm"), _num(f, "odd_depth_err_ppm")
    even, even_err = _num(f, "even_depth_ppm"), _num(f, "even_depth_err_ppm")
    # LEO-Vetter: no verdict when the odd or the even transits show no significant dip at all
    # (a planet at twice the reported period transits only every other time)
    if None not in (odd, odd_err, even, even_err) and (odd < 3 * odd_err or even < 3 * even_err):
        return True
    return sigma <= ODD_EVEN_SIGMA


def _secondary(f: Mapping) -> bool | None:
    sec = _num(f, "secondary_best_sigma")
    period, duration = _num(f, "period_days"), _num(f, "duration_hours")
    if sec is None or period is None or duration is None or period <= 0 or duration <= 0:
        return None
    fa1, fa2 = false_alarm_sigmas(period, duration)
    fred = _num(f, "red_noise_factor") or 1.0
    ter, pos = _num(f, "secondary_tertiary_sigma"), _num(f, "secondary_positive_sigma")
    # ModShift compares white-noise significances in MS5/MS6: undo the F_red scaling
    ms4 = sec - fa1 > MODSHIFT_SEC_FA1_MARGIN
    ms5 = ter is None or ter <= 0 or (sec - ter) * fred - fa2 > MODSHIFT_SEC_TER_MARGIN
    ms6 = pos is None or pos <= 0 or (sec - pos) * fred - fa2 > MODSHIFT_SEC_POS_MARGIN
    if not (ms4 and ms5 and ms6):
        return True
    # exceptions: the reported period is half the true one (the "secondary" is an identical
    # transit at phase 0.5), or a planet's own occultation could make this secondary
    phase, primary = _num(f, "secondary_best_phase"), _num(f, "primary_sigma")
    if phase is not None and primary is not None:
        if abs(phase - 0.5) * period < 0.25 * duration / 24.0 and abs(primary - sec) * fred < fa2:
            return True
    albedo, radius = _num(f, "secondary_albedo"), _num(f, "planet_radius_rearth")
    d_sec, depth = _num(f, "secondary_best_depth_ppm"), _num(f, "depth_ppm")
    if None not in (albedo, radius, d_sec, depth) and depth > 0:
        if (0 < albedo < 1 and radius < OCCULTATION_MAX_RADIUS_REARTH
                and d_sec < OCCULTATION_MAX_DEPTH_RATIO * depth and not _grazing(f)):
            return True
    return False


def _grazing(f: Mapping) -> bool:
    """Impact parameter >= the occultation exception's 0.95: b = (b + Rp/R*) of the limb-darkened
    fit minus Rp/R* ~ sqrt(depth) (``radius_ratio``); False when either is missing."""
    b_plus_k, k = _num(f, "impact_plus_radius_ratio"), _num(f, "radius_ratio")
    return b_plus_k is not None and k is not None and b_plus_k - k >= OCCULTATION_MAX_IMPACT


def _duration(f: Mapping) -> bool | None:
    period, duration = _num(f, "period_days"), _num(f, "duration_hours")
    a_r = _num(f, "a_over_rstar")
    if period is None or duration is None or a_r is None or duration <= 0:
        return None
    implied = period / (math.pi * duration / 24.0)
    return a_r >= MIN_A_OVER_RSTAR_STAR and implied >= MIN_A_OVER_RSTAR_DURATION


def _radius(f: Mapping) -> bool | None:
    value = _num(f, "planet_radius_rearth")
    return None if value is None else value <= MAX_RADIUS_REARTH


def _centroid(f: Mapping) -> bool | None:
    value = _num(f, "centroid_offset_sigma")
    return None if value is None else value <= CENTROID_OFFSET_SIGMA


#: Every flag, in display order.
FLAGS: tuple[Flag, ...] = (
    Flag("snr", "signal", "snr_red", _snr,
         f"SNR with correlated noise >= {MIN_SNR}", f"{ROBOVETTER} (MES threshold); Jenkins et al. 2002",
         requires=("snr_red",)),
    Flag("n_transits", "signal", "n_transits", _n_transits,
         f"at least {MIN_TRANSITS} transits observed", LEO,
         requires=("n_transits",)),
    Flag("v_shape", "shape", "impact_plus_radius_ratio", _v_shape,
         f"b + Rp/R* <= {V_SHAPE_MAX}", ROBOVETTER,
         requires=("impact_plus_radius_ratio",)),
    Flag("odd_even", "eclipsing binary", "odd_even_sigma", _odd_even,
         f"odd/even depth difference <= {ODD_EVEN_SIGMA:g} sigma (correlated noise included)", LEO,
         requires=("odd_even_sigma",)),
    Flag("secondary", "eclipsing binary", "secondary_best_sigma", _secondary,
         f"no secondary with sigma/F_red - sigma_FA1 > {MODSHIFT_SEC_FA1_MARGIN:g} standing out of "
         "tertiary and positive dips by sigma_FA2 (non-grazing planet occultations and half-period twins excepted)",
         MODSHIFT,
         requires=("secondary_best_sigma", "period_days", "duration_hours")),
    Flag("centroid_offset", "pixel", "centroid_offset_sigma", _centroid,
         f"centroid offset <= {CENTROID_OFFSET_SIGMA:g} sigma", "Bryson et al. 2013, PASP 125, 889",
         requires=("centroid_offset_sigma",)),
    Flag("duration", "star", "duration_ratio", _duration,
         f"a/R* from the star >= {MIN_A_OVER_RSTAR_STAR:g} and from the duration >= {MIN_A_OVER_RSTAR_DURATION:g}",
         LEO,
         requires=("period_days", "duration_hours", "a_over_rstar")),
    Flag("radius", "star", "planet_radius_rearth", _radius,
         f"radius <= {MAX_RADIUS_REARTH:g} Earth radii", LEO,
         requires=("planet_radius_rearth",)),
)
#: Names of :data:`FLAGS`, in order.
FLAG_NAMES: tuple[str, ...] = tuple(flag.name for flag in FLAGS)
#: The bit of each flag in a stored failed-flag mask (``Candidate.failed_flags``). Explicit and
#: permanent: a new flag takes the next unused bit and a retired flag's bit is never reused, so
#: adding or reordering flags never renumbers stored masks (63 bits fit a signed BIGINT).
FLAG_BITS: dict[str, int] = {
    "snr": 0,
    "n_transits": 1,
    "v_shape": 2,
    "odd_even": 3,
    "secondary": 4,
    "centroid_offset": 5,
    "duration": 6,
    "radius": 7,
}
#: Every feature a flag reads (so a caller can pass just these).
INPUT_NAMES: tuple[str, ...] = (
    "snr_red", "n_transits", "impact_plus_radius_ratio", "odd_even_sigma", "odd_depth_ppm", "odd_depth_err_ppm",
    "even_depth_ppm", "even_depth_err_ppm", "secondary_best_sigma", "secondary_best_phase",
    "secondary_best_depth_ppm", "secondary_tertiary_sigma", "secondary_positive_sigma", "primary_sigma",
    "red_noise_factor", "secondary_albedo", "depth_ppm", "planet_radius_rearth", "period_days", "duration_hours",
    "a_over_rstar", "duration_ratio", "centroid_offset_sigma", "radius_ratio",
)


def evaluate(features: Mapping) -> list[FlagResult]:
    """Every flag on one candidate's ``features`` (a mapping of metric name to number or None)."""
    features = features or {}
    return [FlagResult(flag.name, flag.group, flag.metric, _num(features, flag.metric), flag.passes(features),
                       flag.threshold_text, flag.reference) for flag in FLAGS]


def maybe_computable(columns: Mapping[str, np.ndarray]) -> np.ndarray:
    """Boolean mask (n,) of the rows on which some flag may be computable: every metric of some
    flag's ``requires`` is finite there. On the other rows every flag is None whatever the other
    metrics hold (a candidate without a light curve), so they need no :func:`evaluate`.

    ``columns``: metric name -> float array (n,), NaN = missing; holds every ``requires`` metric.
    """
    n = len(next(iter(columns.values()))) if columns else 0
    out = np.zeros(n, dtype=bool)
    for flag in FLAGS:
        ok = np.ones(n, dtype=bool)
        for metric in flag.requires:
            ok &= np.isfinite(np.asarray(columns[metric], dtype=np.float64))
        out |= ok
    return out


def failed_flags(features: Mapping) -> list[str]:
    """Names of the flags this candidate fails (not computable ones are not failures)."""
    return [result.name for result in evaluate(features) if result.passed is False]


def failed_mask(features: Mapping) -> int:
    """The failed flags of ``features`` as a bitmask: bit ``FLAG_BITS[name]`` set for each flag
    that fails (a flag that cannot be computed is not a failure); 0 when none fails.

    Stored as ``Candidate.failed_flags`` so "fails flag X" is one integer test in SQL
    (``failed_flags & (1 << FLAG_BITS[X]) != 0``)."""
    mask = 0
    for name in failed_flags(features):
        mask |= 1 << FLAG_BITS[name]
    return mask


def flag_bit(name: str) -> int:
    """The mask value (``1 << FLAG_BITS[name]``) of one flag; KeyError for an unknown name."""
    return 1 << FLAG_BITS[name]


__all__ = ["FLAGS", "FLAG_BITS", "FLAG_NAMES", "GROUPS", "INPUT_NAMES", "Flag", "FlagResult", "evaluate",
           "failed_flags", "failed_mask", "false_alarm_sigmas", "flag_bit", "maybe_computable"]
