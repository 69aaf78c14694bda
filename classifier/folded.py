"""A light curve folded on a candidate's ephemeris and the measurements vetting metrics share.

:class:`Fold` holds the folded arrays (phase, transit masks, odd/even) and computes, once and on
demand, what several metrics of :mod:`classifier.features` need: the out-of-transit baseline and
scatter, box depths (transit core, odd, even, phase 0.5), the deepest secondary box anywhere and
a least-squares trapezoid fit. :class:`StarParams` and :func:`expected_duration_hours` describe
the host star. The secondary-eclipse scan (ModShift-style) is :mod:`classifier.modshift`.

Noise: ``sigma`` is the robust white (per-point) scatter out of transit; :meth:`Fold.red_noise`
is the correlated ("red") noise on a given timescale from the scatter of out-of-transit means
over windows of that length (Pont, Zucker & Queloz 2006, MNRAS 373, 231), and box depths that
average several transits carry both: ``err = sqrt(sigma_w^2 / n + sigma_r^2 / N_transits)``
(the "pink" noise of LEO-Vetter, Kunimoto et al. 2025). Points near the transit that stand out
of the folded transit by more than :data:`CLIP_SIGMA` robust deviations (cosmic rays,
residual flares) are rejected before any box is averaged. Nothing here imports Django.
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
#: Points near the transit further than this many robust deviations from the folded transit's
#: local median are rejected (a per-point 5-sigma outlier is a 1-in-3.5-million event).
CLIP_SIGMA = 5.0
#: Folded-transit bins per duration for that rejection, and the fewest points a bin needs
#: (fewer: a median of 2-4 points is no reference, the bin is left alone).
_CLIP_BINS_PER_DURATION = 8
_CLIP_MIN_POINTS = 5


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


def _box(flux_in: np.ndarray, baseline: float, sigma: float, red: float = 0.0,
         n_transits: int = 1) -> tuple[float, float]:
    """Depth (relative) and its 1-sigma error for points inside a box.

    The error is ``sqrt(sigma^2 / n + red^2 / n_transits)``: white noise averages down with the
    number of points, correlated noise only with the number of transits.
    """
    if flux_in.size == 0 or not finite(sigma):
        return _NAN, _NAN
    red = red if finite(red) else 0.0
    err = math.sqrt(sigma**2 / flux_in.size + red**2 / max(n_transits, 1))
    return float(baseline - flux_in.mean()), float(err)


def _clip_near_transit(x: np.ndarray, f: np.ndarray, dur: float, sigma: float) -> np.ndarray:
    """Mask (n,) of the points kept: False for points within one duration of mid-transit that
    differ from the median of their folded-transit bin (``dur / 8`` wide) by more than
    :data:`CLIP_SIGMA` times the larger of ``sigma`` and the bin's own robust scatter.

    The reference is local in phase, so a V-shaped eclipse or an ingress is not mistaken for
    outliers, and the bin's own scatter keeps odd/even depth differences (two groups of
    points in one bin) from being clipped.
    """
    keep = np.ones(x.size, bool)
    near = np.flatnonzero(np.abs(x) < dur)
    if near.size < _CLIP_MIN_POINTS or not finite(sigma):
        return keep
    n_bins = 2 * _CLIP_BINS_PER_DURATION
    idx = np.clip(((x[near] + dur) / (2 * dur) * n_bins).astype(np.int64), 0, n_bins - 1)
    for b in np.unique(idx):
        members = near[idx == b]
        if members.size < _CLIP_MIN_POINTS:
            continue
        values = f[members]
        med = np.median(values)
        scale = max(sigma, 1.4826 * float(np.median(np.abs(values - med))))
        keep[members[np.abs(values - med) > CLIP_SIGMA * scale]] = False
    return keep


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


def _red_noise(t: np.ndarray, f: np.ndarray, timescale_days: float, sigma: float, cadence_days: float) -> float:
    """See :meth:`Fold.red_noise`; ``t``, ``f`` the out-of-transit points (n,)."""
    if not (finite(sigma) and finite(cadence_days) and timescale_days > 0) or t.size < 8:
        return _NAN
    idx = np.floor((t - t[0]) / timescale_days).astype(np.int64)
    counts = np.bincount(idx)
    sums = np.bincount(idx, f)
    # windows cut by gaps hold fewer points; keep those at least half full
    full = counts >= max(2.0, 0.5 * timescale_days / cadence_days)
    if full.sum() < 4:
        return _NAN
    means = sums[full] / counts[full]
    spread = _robust_std(means)
    white = sigma**2 / float(np.mean(counts[full]))
    return float(math.sqrt(max(spread**2 - white, 0.0)))


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
    ``n_clipped``: points rejected near the transit (see :func:`_clip_near_transit`).
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
        self.n_clipped = 0
        if self.t.size >= 3:
            # reject outliers near the transit first: every box, baseline and fit below
            # then sees the same points
            x = self.x
            far = np.abs(x) > self.dur
            sigma0 = _robust_std(self.f[far]) if far.sum() >= 3 else _NAN
            keep = _clip_near_transit(x, self.f, self.dur, sigma0)
            if not keep.all():
                self.n_clipped = int((~keep).sum())
                self.t, self.f = self.t[keep], self.f[keep]
                for name in ("cycle", "phase", "x"):
                    self.__dict__.pop(name, None)

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
        """Depth (relative) and its 1-sigma white-noise error of the points in ``mask``."""
        return _box(self.f[mask], self.baseline, self.sigma)

    def pink_box(self, mask: np.ndarray, timescale_days: float) -> tuple[float, float]:
        """Depth and its error with white and correlated noise: the points in ``mask``
        average the white noise down, the transits they come from the red noise on
        ``timescale_days`` (:meth:`red_noise`)."""
        n_transits = int(np.unique(self.cycle[mask]).size)
        return _box(self.f[mask], self.baseline, self.sigma, self.red_noise(timescale_days), n_transits)

    @cached_property
    def cadence_days(self) -> float:
        """Median time step [days] (NaN for fewer than 2 points)."""
        dt = np.diff(self.t)
        dt = dt[dt > 0]
        return float(np.median(dt)) if dt.size else _NAN

    def red_noise(self, timescale_days: float) -> float:
        """Correlated noise (relative flux) on ``timescale_days``: ``sqrt(s^2 - sigma^2 / m)``, where
        ``s`` is the robust scatter of out-of-transit means over consecutive windows of that
        length holding ``m`` points on average (Pont et al. 2006); 0 when the means scatter no more
        than white noise predicts, NaN with fewer than 4 full windows."""
        key = round(float(timescale_days), 9)
        cache = self.__dict__.setdefault("_red_noise", {})
        if key not in cache:
            cache[key] = _red_noise(self.t[self.out_mask], self.f[self.out_mask], timescale_days,
                                    self.sigma, self.cadence_days)
        return cache[key]

    @cached_property
    def core_box(self) -> tuple[float, float]:
        return self.box(self.in_core)

    @cached_property
    def transit_scatter(self) -> float:
        """Correlated noise of single-transit core depths (relative flux), from the transits
        themselves: each transit's mean residual from its group's (odd or even) folded profile,
        beyond what white noise explains (Robovetter/LEO-Vetter use per-transit depths the same
        way). The profile is binned in time from mid-transit, so cadence sampling of a
        V-shaped eclipse is not taken for scatter. NaN with fewer than 2 transits per group."""
        core = self.in_core
        if not finite(self.sigma) or core.sum() < 4:
            return _NAN
        x, f, cyc, odd = self.x[core], self.f[core], self.cycle[core], self.odd[core]
        n_bins = 4
        b = np.clip(((x / (0.5 * self.dur) + 0.5) * n_bins).astype(np.int64), 0, n_bins - 1)
        scaled, white = [], []
        for group in (odd, ~odd):
            cycles = np.unique(cyc[group])
            if cycles.size < 2:
                return _NAN
            key = b[group]
            profile = np.bincount(key, f[group], n_bins) / np.maximum(np.bincount(key, minlength=n_bins), 1)
            resid = f[group] - profile[key]
            _, inv, n_i = np.unique(cyc[group], return_inverse=True, return_counts=True)
            r_i = np.bincount(inv, resid) / n_i
            # each profile bin averages the group's transits: residuals shrink by (N - 1) / N
            scaled.append(r_i / math.sqrt((cycles.size - 1) / cycles.size))
            white.append(self.sigma**2 / n_i)
        # robust scatter: one transit hit by a systematic must not set every transit's error
        r = np.concatenate(scaled)
        spread = 1.4826 * float(np.median(np.abs(r)))
        return float(math.sqrt(max(spread**2 - float(np.median(np.concatenate(white))), 0.0)))

    def _odd_even_box(self, mask: np.ndarray) -> tuple[float, float]:
        red = max(self.red_noise(0.5 * self.dur), self.transit_scatter, key=lambda v: v if finite(v) else -1.0)
        n_transits = int(np.unique(self.cycle[mask]).size)
        return _box(self.f[mask], self.baseline, self.sigma, red, n_transits)

    @cached_property
    def odd_box(self) -> tuple[float, float]:
        """Odd transits' core depth and its white + red error (LEO-Vetter's box odd/even test):
        the red term is the larger of the out-of-transit estimate on half the duration
        (:meth:`red_noise`) and the per-transit depth scatter (:attr:`transit_scatter`)."""
        return self._odd_even_box(self.in_core & self.odd)

    @cached_property
    def even_box(self) -> tuple[float, float]:
        return self._odd_even_box(self.in_core & ~self.odd)

    @cached_property
    def full_pink_box(self) -> tuple[float, float]:
        """Full-duration depth and its white + red error (for the red-noise SNR)."""
        return self.pink_box(self.in_full, self.dur)

    @cached_property
    def modshift(self):
        """The ModShift-style scan of the whole phase (:class:`classifier.modshift.PhaseScan`)."""
        from classifier.modshift import phase_scan

        return phase_scan(self.phase, self.f, period_days=self.period_days, duration_days=self.dur,
                          baseline=self.baseline, sigma=self.sigma)

    @cached_property
    def trapezoid(self) -> tuple[float, float, float, float]:
        """Best-fit trapezoid: depth (relative), total and ingress duration [days], flat fraction."""
        return _fit_trapezoid(self.x, self.f, self.dur, self.core_box[0], self.baseline)

    @cached_property
    def mass_and_radius(self) -> tuple[float, float]:
        return self.star.mass_and_radius()

    @cached_property
    def a_over_rstar(self) -> float:
        """a / R_* from Kepler's third law with the star's mass and radius (NaN when unknown)."""
        mass, radius = self.mass_and_radius
        if not (finite(mass) and finite(radius) and mass > 0 and radius > 0):
            return _NAN
        return float((mass * (self.period_days / 365.25) ** 2) ** (1 / 3) * _RSUN_PER_AU / radius)

    @cached_property
    def expected_duration_hours(self) -> float:
        return expected_duration_hours(self.period_days, self.star)
