"""A light curve folded on a candidate's ephemeris and the measurements vetting metrics share.

:class:`Fold` holds the folded arrays (phase, transit masks, odd/even) and computes, once and on
demand, what several metrics of :mod:`classifier.features` need: the out-of-transit baseline and
scatter, box depths (transit core, odd, even, phase 0.5), the deepest secondary box anywhere and
a least-squares trapezoid fit. :class:`StarParams` and :func:`expected_duration_hours` describe
the host star. Nothing here imports Django.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from classifier.lightcurves import LightCurveError

_NAN = float("nan")
_RSUN_PER_AU = 215.032
_LOGG_SUN = 4.438


@dataclass(frozen=True)
class StarParams:
    """Host-star parameters; any may be NaN (unknown)."""

    teff_k: float = _NAN
    logg_cgs: float = _NAN
    radius_rsun: float = _NAN
    mass_msun: float = _NAN
    magnitude: float = _NAN

    def mass_and_radius(self) -> tuple[float, float]:
        """Mass (Msun) and radius (Rsun), filling one from logg when it is missing."""
        m, r, g = self.mass_msun, self.radius_rsun, self.logg_cgs
        g_rel = 10 ** (g - _LOGG_SUN) if finite(g) else _NAN
        if not finite(m) and finite(r):
            m = g_rel * r**2
        if not finite(r) and finite(m):
            r = math.sqrt(m / g_rel) if finite(g_rel) and g_rel > 0 else _NAN
        return float(m), float(r)


def finite(x) -> bool:
    """True for a finite number (False for None, NaN, inf)."""
    return x is not None and bool(np.isfinite(x))


def expected_duration_hours(period_days: float, star: StarParams) -> float:
    """Duration (hours) of a central transit of a small planet on a circular orbit.

    ``T = P / pi * arcsin(R* / a)`` with ``a`` from Kepler's third law.
    NaN when the star's mass or radius is unknown.
    """
    mass, radius = star.mass_and_radius()
    if not (finite(mass) and finite(radius) and mass > 0 and radius > 0):
        return _NAN
    a_r = (mass * (period_days / 365.25) ** 2) ** (1 / 3) * _RSUN_PER_AU / radius
    return float(24.0 * period_days / math.pi * math.asin(min(1.0 / a_r, 1.0)))


# --------------------------------------------------------------------------------------
# measurement primitives
# --------------------------------------------------------------------------------------

def _robust_std(x: np.ndarray) -> float:
    if x.size < 3:
        return _NAN
    return float(1.4826 * np.median(np.abs(x - np.median(x))))


def _box(flux_in: np.ndarray, baseline: float, sigma: float) -> tuple[float, float]:
    """Depth (relative) and its 1-sigma error for points inside a box."""
    if flux_in.size == 0 or not finite(sigma):
        return _NAN, _NAN
    return float(baseline - flux_in.mean()), float(sigma / math.sqrt(flux_in.size))


def trapezoid_model(x, depth, total, flat_fraction, x0):
    """Trapezoid transit: 1 outside, 1 - depth on the flat bottom, linear ingress/egress."""
    half = 0.5 * total
    ingress = max(0.5 * total * (1.0 - flat_fraction), 1e-9)
    d = np.abs(x - x0)
    frac = np.clip((half - d) / ingress, 0.0, 1.0)
    return 1.0 - depth * frac


def _fit_trapezoid(x_days, flux, duration_days, depth_guess, baseline):
    """Least-squares trapezoid on the binned transit; returns depth, T, ingress, flat frac."""
    from scipy.optimize import least_squares

    half_window = 1.5 * duration_days
    n_bins = 60
    sel = np.abs(x_days) < half_window
    if sel.sum() < 8:
        return (_NAN,) * 4
    edges = np.linspace(-half_window, half_window, n_bins + 1)
    idx = np.clip(np.searchsorted(edges, x_days[sel]) - 1, 0, n_bins - 1)
    counts = np.bincount(idx, minlength=n_bins)
    sums = np.bincount(idx, flux[sel] / baseline, minlength=n_bins)
    ok = counts > 0
    if ok.sum() < 6:
        return (_NAN,) * 4
    xb = 0.5 * (edges[:-1] + edges[1:])[ok]
    yb = sums[ok] / counts[ok]
    w = np.sqrt(counts[ok])
    depth0 = depth_guess if finite(depth_guess) and depth_guess > 0 else max(1.0 - yb.min(), 1e-6)

    def resid(p):
        return (yb - trapezoid_model(xb, p[0], p[1], p[2], p[3])) * w

    def jac(p):
        # analytic derivatives: a 2-point numerical Jacobian costs 4 model calls per step
        depth, total, flat, x0 = p
        ingress = max(0.5 * total * (1.0 - flat), 1e-9)
        u = (0.5 * total - np.abs(xb - x0)) / ingress
        ramp = (u > 0.0) & (u < 1.0)
        out = np.zeros((xb.size, 4))
        out[:, 0] = np.clip(u, 0.0, 1.0) * w
        scale = np.where(ramp, depth * w / ingress, 0.0)
        out[:, 1] = scale * (0.5 - 0.5 * u * (1.0 - flat))
        out[:, 2] = scale * 0.5 * u * total
        out[:, 3] = scale * np.sign(xb - x0)
        return out

    lo = [0.0, 0.2 * duration_days, 0.0, -0.25 * duration_days]
    hi = [max(5.0 * depth0, 1e-5), 2.0 * duration_days, 1.0, 0.25 * duration_days]
    p0 = np.clip([depth0, duration_days, 0.5, 0.0], lo, np.array(hi) - 1e-12)
    try:
        fit = least_squares(resid, p0, jac=jac, bounds=(lo, hi), x_scale="jac", max_nfev=200)
    except (ValueError, np.linalg.LinAlgError):
        return (_NAN,) * 4
    depth, total, flat, _ = fit.x
    return float(depth), float(total), float(0.5 * total * (1 - flat)), float(flat)


def _best_secondary(phase, flux, duration_days, period_days, baseline, sigma):
    """Deepest full-duration box away from the primary; (phase 0..1, depth, sigma)."""
    width = duration_days / period_days  # box width in phase
    if not (0 < width < 0.25) or not finite(sigma):
        return _NAN, _NAN, _NAN
    # bins a quarter of the box wide; a sliding sum of 4 bins is the box (circularly)
    n_bins = int(min(max(4.0 / width, 8), 20000))
    ph = phase % 1.0
    idx = np.minimum((ph * n_bins).astype(np.int64), n_bins - 1)
    counts = np.bincount(idx, minlength=n_bins).astype(float)
    sums = np.bincount(idx, flux, minlength=n_bins)
    k = max(int(round(width * n_bins)), 1)
    c_box = sum(np.roll(counts, -j) for j in range(k))
    s_box = sum(np.roll(sums, -j) for j in range(k))
    centres = (np.arange(n_bins) + 0.5 * k) / n_bins % 1.0
    # stay clear of the primary eclipse (its full width plus one box)
    dist = np.minimum(centres, 1.0 - centres)
    allowed = (dist > 1.5 * width) & (c_box >= 3)
    if not allowed.any():
        return _NAN, _NAN, _NAN
    depth = np.full(n_bins, -np.inf)
    depth[allowed] = baseline - s_box[allowed] / c_box[allowed]
    signif = np.full(n_bins, -np.inf)
    signif[allowed] = depth[allowed] / (sigma / np.sqrt(c_box[allowed]))
    i = int(np.argmax(signif))
    return float(centres[i]), float(depth[i]), float(signif[i])


# --------------------------------------------------------------------------------------
# the folded light curve: what every metric reads
# --------------------------------------------------------------------------------------

class Fold:
    """A light curve folded on a candidate's ephemeris, with the intermediate results metrics share.

    Attributes (arrays of the usable points, shape ``(n,)``): ``t`` time [days], ``f`` relative
    flux, ``cycle`` transit number (0 = the epoch's transit), ``phase`` [cycles, -0.5..0.5,
    transit at 0], ``x`` [days from mid-transit]; masks ``in_full`` (within the full duration),
    ``in_core`` (central half), ``out_mask`` (out of transit, clear of phase 0.5), ``odd``.
    Scalars: ``period_days``, ``epoch``, ``duration_hours``, ``dur`` [days], ``star``,
    ``catalog``, ``baseline`` (out-of-transit median), ``sigma`` (robust out-of-transit scatter).
    Properties are computed on first use and cached; ``usable`` is False when there are fewer
    than 3 points or 3 out-of-transit points (every light-curve metric is then empty).
    """

    def __init__(self, time, flux, *, period_days: float, epoch: float, duration_hours: float,
                 star: StarParams | None = None, catalog: Mapping[str, float] | None = None):
        self.period_days, self.epoch, self.duration_hours = period_days, epoch, duration_hours
        self.star = star or StarParams()
        self.catalog = catalog or {}
        time = np.asarray(time, float).ravel()
        flux = np.asarray(flux, float).ravel()
        if time.shape != flux.shape:
            raise LightCurveError(f"time and flux differ in length ({time.size} != {flux.size})")
        good = np.isfinite(time) & np.isfinite(flux)
        self.t, self.f = time[good], flux[good]
        self.dur = duration_hours / 24.0

    @cached_property
    def cycle(self) -> np.ndarray:
        return np.floor((self.t - self.epoch) / self.period_days + 0.5)

    @cached_property
    def phase(self) -> np.ndarray:
        return (self.t - self.epoch) / self.period_days - self.cycle  # -0.5..0.5, transit at 0

    @cached_property
    def x(self) -> np.ndarray:
        return self.phase * self.period_days  # days from mid-transit

    @cached_property
    def in_full(self) -> np.ndarray:
        return np.abs(self.x) < 0.5 * self.dur

    @cached_property
    def in_core(self) -> np.ndarray:
        return np.abs(self.x) < 0.25 * self.dur

    @cached_property
    def odd(self) -> np.ndarray:
        return (self.cycle % 2) == 1

    @cached_property
    def out_mask(self) -> np.ndarray:
        """Out of transit: clear of the transit (1 duration each side) and of phase 0.5."""
        ax = np.abs(self.x)
        mask = (ax > self.dur) & (np.abs(np.abs(self.phase) - 0.5) * self.period_days > self.dur)
        if mask.sum() < 3:
            mask = ax > self.dur
        return mask

    @cached_property
    def usable(self) -> bool:
        return self.t.size >= 3 and self.out_mask.sum() >= 3

    @cached_property
    def baseline(self) -> float:
        return float(np.median(self.f[self.out_mask]))

    @cached_property
    def sigma(self) -> float:
        f_out = self.f[self.out_mask]
        sigma = _robust_std(f_out)
        if not (sigma > 0):
            sigma = float(np.std(f_out)) or _NAN
        return sigma

    def box(self, mask: np.ndarray) -> tuple[float, float]:
        """Depth (relative) and its 1-sigma error of the points in ``mask``."""
        return _box(self.f[mask], self.baseline, self.sigma)

    @cached_property
    def core_box(self) -> tuple[float, float]:
        return self.box(self.in_core)

    @cached_property
    def odd_box(self) -> tuple[float, float]:
        return self.box(self.in_core & self.odd)

    @cached_property
    def even_box(self) -> tuple[float, float]:
        return self.box(self.in_core & ~self.odd)

    @cached_property
    def secondary_box(self) -> tuple[float, float]:
        x_sec = (np.abs(self.phase) - 0.5) * self.period_days
        return self.box(np.abs(x_sec) < 0.5 * self.dur)

    @cached_property
    def best_secondary(self) -> tuple[float, float, float]:
        return _best_secondary(self.phase, self.f, self.dur, self.period_days, self.baseline, self.sigma)

    @cached_property
    def trapezoid(self) -> tuple[float, float, float, float]:
        """Best-fit trapezoid: depth (relative), total and ingress duration [days], flat fraction."""
        return _fit_trapezoid(self.x, self.f, self.dur, self.core_box[0], self.baseline)

    @cached_property
    def mass_and_radius(self) -> tuple[float, float]:
        return self.star.mass_and_radius()

    @cached_property
    def expected_duration_hours(self) -> float:
        return expected_duration_hours(self.period_days, self.star)
