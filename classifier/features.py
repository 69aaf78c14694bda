"""Vetting metrics of a transit candidate, computed from its light curve.

One entry point, :func:`vetting_metrics`, returns a flat ``dict[str, float]`` with stable
snake_case keys (listed in :data:`FEATURE_NAMES`, units in the key or below). Metrics that
cannot be computed from the data (no out-of-transit points, no even transit, no star
parameters, ...) are NaN; weak data never raises. Invalid ephemerides (period <= 0) raise
:class:`classifier.lightcurves.LightCurveError`.

Input is a cleaned, detrended light curve (flux ~1), e.g. from
:func:`classifier.lightcurves.prepare`; non-finite points are ignored.

Metrics (units)
---------------
``depth_ppm``                 depth: out-of-transit median minus the mean of the central
                              half of the transit, parts per million
``depth_err_ppm``             its 1-sigma uncertainty from the out-of-transit scatter, ppm
``snr``                       full-duration box depth over its uncertainty (dimensionless)
``noise_ppm``                 robust (MAD) per-point scatter out of transit, ppm
``n_transits``                transits with at least one point in transit (count)
``n_points_in_transit``       points within the full transit duration (count)
``odd_depth_ppm``, ``even_depth_ppm``   depth of odd/even-numbered transits, ppm
``odd_even_diff_ppm``         odd minus even depth, ppm
``odd_even_sigma``            |odd - even| / combined uncertainty (sigma)
``secondary_depth_ppm``       box depth at phase 0.5 (full duration), ppm
``secondary_sigma``           its significance (sigma); negative for a brightening
``secondary_best_phase``      phase (cycles, 0..1) of the deepest box away from the transit
``secondary_best_depth_ppm``, ``secondary_best_sigma``  depth (ppm) and significance there
``trapezoid_depth_ppm``       depth of the best-fit trapezoid, ppm
``trapezoid_duration_hours``  its total duration (first to fourth contact), hours
``trapezoid_ingress_hours``   its ingress duration, hours
``shape_flat_fraction``       flat-bottom duration / total duration (0 = V, 1 = box; U ~0.7+)
``expected_duration_hours``   central-transit duration for the star's density, hours
``duration_ratio``            catalog duration / expected duration (dimensionless)
``stellar_density_solar``     mean stellar density in solar units
``radius_ratio``              sqrt(depth), planet-to-star radius ratio (dimensionless)
``planet_radius_rearth``      radius_ratio x stellar radius, Earth radii
plus pass-through catalog values: ``period_days``, ``duration_hours``,
``catalog_depth_ppm``, ``catalog_snr``, ``teff_k``, ``logg_cgs``, ``radius_rsun``,
``mass_msun``, ``magnitude``.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from classifier.lightcurves import LightCurveError

_NAN = float("nan")
_RSUN_PER_AU = 215.032
_REARTH_PER_RSUN = 109.1
_LOGG_SUN = 4.438

FEATURE_NAMES: tuple[str, ...] = (
    "depth_ppm", "depth_err_ppm", "snr", "noise_ppm", "n_transits", "n_points_in_transit",
    "odd_depth_ppm", "even_depth_ppm", "odd_even_diff_ppm", "odd_even_sigma",
    "secondary_depth_ppm", "secondary_sigma", "secondary_best_phase",
    "secondary_best_depth_ppm", "secondary_best_sigma",
    "trapezoid_depth_ppm", "trapezoid_duration_hours", "trapezoid_ingress_hours",
    "shape_flat_fraction",
    "expected_duration_hours", "duration_ratio", "stellar_density_solar",
    "radius_ratio", "planet_radius_rearth",
    "period_days", "duration_hours", "catalog_depth_ppm", "catalog_snr",
    "teff_k", "logg_cgs", "radius_rsun", "mass_msun", "magnitude",
)


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
        g_rel = 10 ** (g - _LOGG_SUN) if _finite(g) else _NAN
        if not _finite(m) and _finite(r):
            m = g_rel * r**2
        if not _finite(r) and _finite(m):
            r = math.sqrt(m / g_rel) if _finite(g_rel) and g_rel > 0 else _NAN
        return float(m), float(r)


def _finite(x) -> bool:
    return x is not None and bool(np.isfinite(x))


def expected_duration_hours(period_days: float, star: StarParams) -> float:
    """Duration (hours) of a central transit of a small planet on a circular orbit.

    ``T = P / pi * arcsin(R* / a)`` with ``a`` from Kepler's third law.
    NaN when the star's mass or radius is unknown.
    """
    mass, radius = star.mass_and_radius()
    if not (_finite(mass) and _finite(radius) and mass > 0 and radius > 0):
        return _NAN
    a_r = (mass * (period_days / 365.25) ** 2) ** (1 / 3) * _RSUN_PER_AU / radius
    return float(24.0 * period_days / math.pi * math.asin(min(1.0 / a_r, 1.0)))


def _robust_std(x: np.ndarray) -> float:
    if x.size < 3:
        return _NAN
    return float(1.4826 * np.median(np.abs(x - np.median(x))))


def _box(flux_in: np.ndarray, baseline: float, sigma: float) -> tuple[float, float]:
    """Depth (relative) and its 1-sigma error for points inside a box."""
    if flux_in.size == 0 or not _finite(sigma):
        return _NAN, _NAN
    return float(baseline - flux_in.mean()), float(sigma / math.sqrt(flux_in.size))


def _trapezoid(x, depth, total, flat_fraction, x0):
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
    depth0 = depth_guess if _finite(depth_guess) and depth_guess > 0 else max(1.0 - yb.min(), 1e-6)

    def resid(p):
        return (yb - _trapezoid(xb, p[0], p[1], p[2], p[3])) * w

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
    if not (0 < width < 0.25) or not _finite(sigma):
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


def vetting_metrics(time, flux, flux_err=None, *, period_days: float, epoch: float,
                    duration_hours: float, star: StarParams | None = None,
                    catalog: Mapping[str, float] | None = None) -> dict[str, float]:
    """Compute every vetting metric of one candidate.

    Parameters
    ----------
    time : array (n,)
        Times in days, same system as ``epoch`` (BKJD, BTJD, ...).
    flux : array (n,)
        Detrended relative flux (~1).
    flux_err : array (n,), optional
        Unused for the depths (the out-of-transit scatter is more honest with red
        noise); accepted so callers can pass a light curve through unchanged.
    period_days, epoch, duration_hours : float
        Candidate ephemeris (period in days, mid-transit time, total duration in hours).
    star : StarParams, optional
        Host-star parameters for the expected duration and planet radius.
    catalog : mapping, optional
        Catalog values passed through: ``depth_ppm`` and ``snr``.

    Returns
    -------
    dict[str, float]
        Keys :data:`FEATURE_NAMES`, values float (NaN where not computable).
    """
    if not (_finite(period_days) and period_days > 0):
        raise LightCurveError(f"period must be a positive number of days (got {period_days})")
    if not (_finite(duration_hours) and duration_hours > 0):
        raise LightCurveError(f"duration must be a positive number of hours (got {duration_hours})")
    if not _finite(epoch):
        raise LightCurveError(f"epoch must be a finite time (got {epoch})")
    star = star or StarParams()
    catalog = catalog or {}
    out = dict.fromkeys(FEATURE_NAMES, _NAN)
    out.update(period_days=float(period_days), duration_hours=float(duration_hours),
               catalog_depth_ppm=float(catalog.get("depth_ppm", _NAN)),
               catalog_snr=float(catalog.get("snr", _NAN)),
               teff_k=float(star.teff_k), logg_cgs=float(star.logg_cgs),
               radius_rsun=float(star.radius_rsun), mass_msun=float(star.mass_msun),
               magnitude=float(star.magnitude), n_transits=0.0, n_points_in_transit=0.0)
    mass, radius = star.mass_and_radius()
    if _finite(mass) and _finite(radius) and radius > 0:
        out["stellar_density_solar"] = float(mass / radius**3)
    out["expected_duration_hours"] = expected_duration_hours(period_days, star)
    out["duration_ratio"] = float(duration_hours / out["expected_duration_hours"])

    time = np.asarray(time, float).ravel()
    flux = np.asarray(flux, float).ravel()
    if time.shape != flux.shape:
        raise LightCurveError(f"time and flux differ in length ({time.size} != {flux.size})")
    good = np.isfinite(time) & np.isfinite(flux)
    t, f = time[good], flux[good]
    if t.size < 3:
        return out

    dur = duration_hours / 24.0
    cycle = np.floor((t - epoch) / period_days + 0.5)
    phase = (t - epoch) / period_days - cycle  # -0.5..0.5, transit at 0
    x = phase * period_days  # days from mid-transit
    ax = np.abs(x)
    in_full = ax < 0.5 * dur
    in_core = ax < 0.25 * dur
    # out of transit: clear of the transit (1 duration each side) and of phase 0.5
    out_mask = (ax > dur) & (np.abs(np.abs(phase) - 0.5) * period_days > dur)
    if out_mask.sum() < 3:
        out_mask = ax > dur
    if out_mask.sum() < 3:
        return out
    f_out = f[out_mask]
    baseline = float(np.median(f_out))
    sigma = _robust_std(f_out)
    if not (sigma > 0):
        sigma = float(np.std(f_out)) or _NAN
    out["noise_ppm"] = sigma * 1e6
    out["n_points_in_transit"] = float(in_full.sum())
    out["n_transits"] = float(np.unique(cycle[in_full]).size)

    depth, depth_err = _box(f[in_core], baseline, sigma)
    out["depth_ppm"], out["depth_err_ppm"] = depth * 1e6, depth_err * 1e6
    full_depth, full_err = _box(f[in_full], baseline, sigma)
    out["snr"] = full_depth / full_err if full_err > 0 else _NAN
    if _finite(depth) and depth > 0:
        out["radius_ratio"] = math.sqrt(depth)
        if _finite(radius):
            out["planet_radius_rearth"] = math.sqrt(depth) * radius * _REARTH_PER_RSUN

    # odd/even: transit number parity (cycle 0 is the epoch's transit, even)
    odd = (cycle % 2) == 1
    d_odd, e_odd = _box(f[in_core & odd], baseline, sigma)
    d_even, e_even = _box(f[in_core & ~odd], baseline, sigma)
    out["odd_depth_ppm"], out["even_depth_ppm"] = d_odd * 1e6, d_even * 1e6
    out["odd_even_diff_ppm"] = (d_odd - d_even) * 1e6
    out["odd_even_sigma"] = abs(d_odd - d_even) / math.hypot(e_odd, e_even)

    # secondary eclipse at phase 0.5 (circular orbit), then the best phase anywhere
    x_sec = (np.abs(phase) - 0.5) * period_days
    d_sec, e_sec = _box(f[np.abs(x_sec) < 0.5 * dur], baseline, sigma)
    out["secondary_depth_ppm"] = d_sec * 1e6
    out["secondary_sigma"] = d_sec / e_sec
    best_phase, best_depth, best_sigma = _best_secondary(phase, f, dur, period_days, baseline, sigma)
    out["secondary_best_phase"] = best_phase
    out["secondary_best_depth_ppm"] = best_depth * 1e6
    out["secondary_best_sigma"] = best_sigma

    tdepth, ttotal, tingress, tflat = _fit_trapezoid(x, f, dur, depth, baseline)
    out["trapezoid_depth_ppm"] = tdepth * 1e6
    out["trapezoid_duration_hours"] = ttotal * 24.0
    out["trapezoid_ingress_hours"] = tingress * 24.0
    out["shape_flat_fraction"] = tflat
    return {k: float(v) for k, v in out.items()}
