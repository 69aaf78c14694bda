"""Secondary-eclipse search over the whole orbit: a model-shift ("ModShift") style phase scan.

A box as long as the transit slides over every phase of the folded light curve; at each phase
its depth and white-noise significance are measured. As in the Kepler Robovetter's ModShift
test (Coughlin et al. 2016, ApJS 224, 12, section 3.2.3; Thompson et al. 2018, ApJS 235, 38,
appendix A.3.3) and DAVE (Kostov et al. 2019, AJ 157, 124), and LEO-Vetter's ``uniqueness``
(Kunimoto et al. 2025, AJ 169, 30):

- the primary is the most significant box within half a duration of phase 0;
- the secondary is the most significant box at least two durations from the primary (so the
  box never starts inside the primary's ingress/egress window, where ephemeris errors and
  the transit's own wings would make a "secondary");
- the tertiary is the most significant box two durations from both, the "positive" the most
  significant brightening three durations from both: a real secondary must stand out of
  these, not only exceed a fixed sigma;
- ``F_red`` is the scatter of the box significances at the other phases (clear of primary
  and secondary) in units of the white-noise expectation: the distribution of same-width dips
  at random phases. Dividing by it turns a white-noise significance into one that includes the
  correlated noise on the transit timescale (floored at 1: never more significant than white
  noise says).

The look-elsewhere-aware thresholds (``sigma_FA1``, ``sigma_FA2``) that these are compared with
are in :mod:`classifier.flags`. Nothing here imports Django.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

_NAN = float("nan")
#: Grid points per box width (the scan's phase resolution is a quarter of the duration).
OVERSAMPLE = 4
#: Fewest phase-grid points.
_MIN_BINS = 8
#: Most phase-grid points (very short duty cycles: the box is then a bit wider than the transit).
_MAX_BINS = 20000
#: Fewest points a box needs to be measured.
_MIN_POINTS = 3
#: Fewest independent boxes (phase ranges one box wide) from which F_red is estimated.
_MIN_FRED_BOXES = 4
#: Exclusion distances in box widths (durations), as ModShift and LEO-Vetter.
SECONDARY_MIN_DISTANCE = 2.0
TERTIARY_MIN_DISTANCE = 2.0
POSITIVE_MIN_DISTANCE = 3.0


@dataclass(frozen=True)
class PhaseScan:
    """Result of :func:`phase_scan`. Phases in cycles (0..1, primary at 0), depths relative
    (positive = dimming), ``*_sigma`` white-noise significances (divide by ``fred`` for the
    red-noise-aware ones); NaN where the data cannot tell.

    ``half_*`` are the box at phase 0.5 exactly (a circular orbit's secondary), ``sec_*`` the
    strongest secondary anywhere, ``fred`` the red-noise factor (>= 1, NaN when too few
    phases are clear of primary and secondary to estimate it).
    """

    primary_sigma: float = _NAN
    sec_phase: float = _NAN
    sec_depth: float = _NAN
    sec_sigma: float = _NAN
    ter_sigma: float = _NAN
    pos_sigma: float = _NAN
    half_depth: float = _NAN
    half_sigma: float = _NAN
    fred: float = _NAN

    @property
    def red_factor(self) -> float:
        """``fred``, or 1 when it could not be estimated (significances stay white-noise ones)."""
        return self.fred if math.isfinite(self.fred) else 1.0


def _circular_sum(values: np.ndarray, k: int) -> np.ndarray:
    """Sum of ``values[i:i+k]`` for every i, wrapping around the end; shape as ``values``."""
    ext = np.concatenate((values, values[:k]))
    cs = np.concatenate(([0.0], np.cumsum(ext)))
    return cs[k:k + values.size] - cs[:values.size]


def _circular_distance(a: np.ndarray, b: float) -> np.ndarray:
    d = np.abs(a - b) % 1.0
    return np.minimum(d, 1.0 - d)


def _exact_box(ph: np.ndarray, flux: np.ndarray, centre: float, width: float, baseline: float,
               sigma: float) -> tuple[float, float]:
    """Depth and white-noise significance of the points within half a box width of ``centre``."""
    inside = _circular_distance(ph, centre) < 0.5 * width
    n = int(inside.sum())
    if n < 1:
        return _NAN, _NAN
    depth = float(baseline - flux[inside].mean())
    return depth, depth / (sigma / math.sqrt(n))


def phase_scan(phase, flux, *, period_days: float, duration_days: float, baseline: float,
               sigma: float) -> PhaseScan:
    """Scan a box of the transit's duration over the whole orbit (see the module docstring).

    Parameters
    ----------
    phase : array (n,)
        Orbital phase in cycles, transit at 0 (any range; taken modulo 1).
    flux : array (n,)
        Detrended relative flux.
    period_days, duration_days : float
        Period and total transit duration [days].
    baseline, sigma : float
        Out-of-transit flux level and robust per-point scatter (relative flux).

    Returns
    -------
    PhaseScan
    """
    phase = np.asarray(phase, float)
    flux = np.asarray(flux, float)
    width = duration_days / period_days  # box width in phase
    if not (0 < width < 0.25) or not (math.isfinite(sigma) and sigma > 0) or phase.size < _MIN_POINTS:
        return PhaseScan()
    ph = phase % 1.0
    half_depth, half_sigma = _exact_box(ph, flux, 0.5, width, baseline, sigma)

    n_bins = int(min(max(OVERSAMPLE / width, _MIN_BINS), _MAX_BINS))
    idx = np.minimum((ph * n_bins).astype(np.int64), n_bins - 1)
    counts = np.bincount(idx, minlength=n_bins).astype(float)
    sums = np.bincount(idx, flux, minlength=n_bins)
    k = max(int(round(width * n_bins)), 1)
    c_box, s_box = _circular_sum(counts, k), _circular_sum(sums, k)
    centres = (np.arange(n_bins) + 0.5 * k) / n_bins % 1.0
    valid = c_box >= _MIN_POINTS
    signif = np.full(n_bins, np.nan)
    signif[valid] = (baseline - s_box[valid] / c_box[valid]) / (sigma / np.sqrt(c_box[valid]))

    d_pri = _circular_distance(centres, 0.0)
    in_primary = valid & (d_pri < 0.5 * width)
    primary_sigma = float(np.max(signif[in_primary])) if in_primary.any() else _NAN
    allowed = valid & (d_pri >= SECONDARY_MIN_DISTANCE * width)
    if not allowed.any():
        return PhaseScan(primary_sigma=primary_sigma, half_depth=half_depth, half_sigma=half_sigma)
    i_sec = int(np.flatnonzero(allowed)[np.argmax(signif[allowed])])
    # refine between grid points: grid boxes are a quarter box apart, so the best one can be
    # an eighth of the eclipse off (~10% of its depth)
    best = (-np.inf, _NAN, _NAN, _NAN)
    for shift in np.linspace(-0.5, 0.5, 9) / n_bins:  # +/- half a grid step
        centre = float((centres[i_sec] + shift) % 1.0)
        if _circular_distance(np.array([centre]), 0.0)[0] < SECONDARY_MIN_DISTANCE * width:
            continue
        depth, sig = _exact_box(ph, flux, centre, width, baseline, sigma)
        if math.isfinite(sig) and sig > best[0]:
            best = (sig, centre, depth, sig)
    _, sec_phase, sec_depth, sec_sigma = best
    if not math.isfinite(sec_phase):
        sec_phase = float(centres[i_sec])
        sec_depth, sec_sigma = _exact_box(ph, flux, sec_phase, width, baseline, sigma)

    d_sec = _circular_distance(centres, sec_phase)
    elsewhere = allowed & (d_sec >= width)
    fred = _NAN
    if elsewhere.sum() >= _MIN_FRED_BOXES * k:
        fred = max(float(np.std(signif[elsewhere])), 1.0)
    tertiary = allowed & (d_sec >= TERTIARY_MIN_DISTANCE * width)
    ter_sigma = float(np.max(signif[tertiary])) if tertiary.any() else _NAN
    positive = valid & (d_pri >= POSITIVE_MIN_DISTANCE * width) & (d_sec >= POSITIVE_MIN_DISTANCE * width)
    pos_sigma = float(np.max(-signif[positive])) if positive.any() else _NAN
    return PhaseScan(primary_sigma=primary_sigma, sec_phase=sec_phase, sec_depth=sec_depth, sec_sigma=sec_sigma,
                     ter_sigma=ter_sigma, pos_sigma=pos_sigma, half_depth=half_depth, half_sigma=half_sigma,
                     fred=fred)


__all__ = ["PhaseScan", "phase_scan"]
