"""Building blocks of the simulator (:mod:`classifier.synthetic`): stars, cadence, noise, eclipses.

Draws a Kepler-field FGK star, the cadence of one quarter with its downlink gaps, red noise,
limb darkening, orbits from Kepler's third law and exposure-integrated eclipse light curves
(primary and secondary, ``batman``: Mandel & Agol 2002). Every random number comes from the
``numpy.random.Generator`` passed in. Nothing here imports Django.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import lfilter

_RSUN_PER_AU = 215.032
_DAYS_PER_YEAR = 365.25
#: Start of Kepler quarter 1 in BKJD; quarters are about 93 days apart.
_Q1_START_BKJD = 131.51
_QUARTER_DAYS = 93.0


@dataclass(frozen=True)
class Star:
    """A simulated host star: parameters as in ``Target`` and its white noise per cadence (ppm)."""

    teff_k: float
    logg_cgs: float
    radius_rsun: float
    mass_msun: float
    magnitude: float
    ra_deg: float
    dec_deg: float
    white_ppm: float


# --------------------------------------------------------------------------------------
# star, cadence and noise
# --------------------------------------------------------------------------------------

def draw_star(rng: np.random.Generator) -> Star:
    """Draw a main-sequence (or slightly evolved) FGK star in the Kepler field."""
    mass = rng.uniform(0.5, 1.4)
    radius = mass**0.8 * (rng.uniform(1.3, 2.5) if rng.random() < 0.1 else 1.0)
    teff = float(np.clip(5772.0 * mass**0.55 + rng.normal(0, 100), 3500, 7500))
    logg = 4.438 + np.log10(mass) - 2 * np.log10(radius)
    magnitude = rng.uniform(11.0, 16.0)
    # Kepler long-cadence precision: ~70 ppm at Kp=12, photon noise scales as 10^(0.2 dm),
    # with a floor from instrument noise.
    white = float(np.hypot(70.0 * 10 ** (0.2 * (magnitude - 12.0)), 20.0))
    return Star(teff, float(logg), float(radius), float(mass), float(magnitude),
                 float(rng.uniform(280.0, 301.0)), float(rng.uniform(36.5, 52.5)), white)


def time_axis(rng: np.random.Generator, n_days: float, cadence_days: float):
    """Cadence times of one quarter with downlink gaps removed, and segment start times."""
    quarter = int(rng.integers(1, 17))
    start = _Q1_START_BKJD + (quarter - 1) * _QUARTER_DAYS
    time = start + cadence_days * np.arange(int(n_days / cadence_days))
    keep = np.ones(time.size, bool)
    segment_starts = [start]
    # monthly data downlinks: ~1-day gaps every ~30 days
    for k in range(1, int(n_days // 30.0) + 1):
        gap_start = start + 30.0 * k + rng.uniform(-1.0, 1.0)
        if gap_start + 1.0 >= time[-1]:
            break
        keep &= ~((time >= gap_start) & (time < gap_start + rng.uniform(0.7, 1.2)))
        segment_starts.append(gap_start + 1.0)
    return time[keep], np.asarray(segment_starts)


def red_noise(rng: np.random.Generator, n: int, sigma: float, tau_cadences: float):
    """AR(1) noise with standard deviation ``sigma`` and correlation time ``tau_cadences``."""
    phi = np.exp(-1.0 / tau_cadences)
    return lfilter([np.sqrt(1 - phi**2) * sigma], [1.0, -phi], rng.normal(size=n))


def limb_darkening(teff: float) -> tuple[float, float]:
    """Rough Kepler-band quadratic coefficients (Claret 2011 trend with temperature)."""
    u1 = float(np.clip(0.40 - 1.2e-4 * (teff - 5800.0), 0.2, 0.8))
    u2 = float(np.clip(0.26 + 2.5e-5 * (teff - 5800.0), 0.05, 0.4))
    return u1, u2


def a_over_r(period_days: float, total_mass_msun: float, radius_rsun: float) -> float:
    """Semi-major axis in stellar radii from Kepler's third law."""
    a_au = (total_mass_msun * (period_days / _DAYS_PER_YEAR) ** 2) ** (1.0 / 3.0)
    return a_au * _RSUN_PER_AU / radius_rsun


def t14_days(period: float, a_r: float, k: float, b: float) -> float:
    """Total eclipse duration (first to fourth contact) of a circular orbit, in days."""
    arg = np.sqrt(max((1 + k) ** 2 - b**2, 1e-6)) / (a_r * np.sqrt(1 - (b / a_r) ** 2))
    return float(period / np.pi * np.arcsin(min(arg, 1.0)))


# --------------------------------------------------------------------------------------
# eclipse models (batman: Mandel & Agol 2002 quadratic limb darkening)
# --------------------------------------------------------------------------------------

def batman_params(t0, period, k, a_r, b, u, ecc=0.0, w=90.0):
    import batman  # imported lazily: only the simulator needs it

    p = batman.TransitParams()
    p.t0, p.per, p.rp, p.a = t0, period, k, a_r
    p.inc = float(np.degrees(np.arccos(min(b / a_r, 1.0))))
    p.ecc, p.w, p.u, p.limb_dark = ecc, w, list(u), "quadratic"
    p.fp, p.t_secondary = 0.0, t0 + period / 2
    return p


def near(time, t0, period, half_window):
    """Mask of cadences within ``half_window`` days of an event repeating every ``period``."""
    phase = (time - t0 + 0.5 * period) % period - 0.5 * period
    return np.abs(phase) < half_window


def eclipse_flux(time, cadence_days, *, t0, period, k, a_r, b, u, ecc=0.0, w=90.0,
                  secondary_fraction=0.0):
    """Relative flux of a transit (and an optional secondary eclipse), exposure-integrated.

    ``secondary_fraction`` is the companion's share of the system light relative to the
    primary (0 for a planet); it sets the secondary depth and dilutes the primary eclipse.
    The model is only evaluated near eclipses (elsewhere the flux is exactly 1).
    """
    import batman

    flux = np.ones_like(time)
    p = batman_params(t0, period, k, a_r, b, u, ecc, w)
    window = t14_days(period, a_r, k, b) * (1.0 + 2.0 * ecc) + 2 * cadence_days
    sel = near(time, t0, period, window)
    if sel.any():
        m = batman.TransitModel(p, time[sel], supersample_factor=5, exp_time=cadence_days)
        flux[sel] = m.light_curve(p)
    t_sec = t0 + period / 2
    if secondary_fraction > 0:
        p.fp = secondary_fraction
        if ecc > 0:
            t_sec = float(batman.TransitModel(p, time[:2]).get_t_secondary(p))
        p.t_secondary = t_sec
        sel2 = near(time, t_sec, period, window)
        sec = np.full_like(time, 1.0 + secondary_fraction)
        if sel2.any():
            m2 = batman.TransitModel(p, time[sel2], supersample_factor=5,
                                     exp_time=cadence_days, transittype="secondary")
            sec[sel2] = m2.light_curve(p)
        flux = (flux + sec - 1.0) / (1.0 + secondary_fraction)
    return flux, t_sec


# --------------------------------------------------------------------------------------
# injection into real light curves (tests and benchmarks)
# --------------------------------------------------------------------------------------

def inject_box_eclipses(time, flux, *, period_days: float, epoch: float, duration_hours: float,
                        depth: float, secondary_depth: float = 0.0, secondary_phase: float = 0.5,
                        odd_depth: float | None = None) -> np.ndarray:
    """``flux`` (n,) with box-shaped eclipses multiplied in: ``depth`` (relative) at the epoch's
    transits (``odd_depth`` at odd-numbered ones, default the same), ``secondary_depth`` at
    ``secondary_phase`` [cycles after the transit]. ``time`` in days like ``epoch``. A box keeps the
    truth exact (the depth of the model is the depth a box measures)."""
    time = np.asarray(time, float)
    out = np.array(flux, float, copy=True)
    half = 0.5 * duration_hours / 24.0
    cycle = np.floor((time - epoch) / period_days + 0.5)
    x = time - epoch - cycle * period_days
    primary = np.where(cycle % 2 == 1, depth if odd_depth is None else odd_depth, depth)
    out[np.abs(x) < half] *= 1.0 - primary[np.abs(x) < half]
    if secondary_depth:
        out[near(time, epoch + secondary_phase * period_days, period_days, half)] *= 1.0 - secondary_depth
    return out
