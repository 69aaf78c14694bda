"""Period search: box least squares (astropy) over a cleaned, detrended light curve.

:func:`bls_search` finds the strongest periodic box-shaped dip and returns a
:class:`BLSResult` (best period, epoch, duration, depth, SNR and the periodogram reduced for
plotting, see :func:`classifier.plots.bls_payload`). Bad input raises
:class:`classifier.lightcurves.LightCurveError`. Nothing here imports Django.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from classifier.lightcurves import LightCurveError, as_arrays, phase_fold, point_scatter, require_usable


@dataclass(frozen=True)
class BLSResult:
    """Best box-least-squares signal and the periodogram.

    ``periods_days`` and ``power`` have shape ``(m,)``, ``power`` is the BLS
    log-likelihood (astropy's default objective).
    """

    period_days: float
    epoch: float
    duration_hours: float
    depth_ppm: float
    snr: float
    periods_days: np.ndarray
    power: np.ndarray


#: Trial durations [hours]: a geometric grid (steps of ~1.3x, so a transit is never more than
#: ~15% from a trial box, about 7% of SNR at worst).
DURATIONS_HOURS: tuple[float, ...] = (0.5, 0.75, 1.0, 1.3, 1.7, 2.2, 2.9, 3.8, 5.0, 6.5, 8.5, 11.0, 14.0, 18.0)
#: Period chunks searched with their own durations (log-spaced).
_PERIOD_CHUNKS = 8
#: Durations tried at a period P: within this factor of the central-transit duration of a
#: Sun-like star, 13 h (P / 365.25 d)^(1/3) (a factor 3 in duration is 27 in stellar density:
#: M dwarfs to subgiants), and shorter than a quarter of the orbit.
_DURATION_RANGE = 3.0


def durations_for_periods(p_lo: float, p_hi: float, durations_hours=DURATIONS_HOURS) -> np.ndarray:
    """Trial durations [days] for periods between ``p_lo`` and ``p_hi`` [days]: those within
    :data:`_DURATION_RANGE` of the Sun-like central duration at either end and shorter than
    ``p_lo / 4``; at least the shortest allowed one."""
    def solar(p):
        return 13.0 * (p / 365.25) ** (1.0 / 3.0)

    d = np.asarray(durations_hours, float)
    allowed = d / 24.0 < p_lo / 4.0
    keep = allowed & (d >= solar(p_lo) / _DURATION_RANGE) & (d <= solar(p_hi) * _DURATION_RANGE)
    if not keep.any():
        keep = allowed & (d == d[allowed].max()) if allowed.any() else allowed
    return d[keep] / 24.0


def bls_search(time, flux, flux_err=None, *, min_period_days: float = 0.5,
               max_period_days: float | None = None, n_periods: int = 20000,
               durations_hours=DURATIONS_HOURS,
               max_plot_points: int = 2000) -> BLSResult:
    """Box least squares search (astropy ``BoxLeastSquares``) for the strongest transit.

    Parameters
    ----------
    time, flux : array (n,)
        Cleaned, detrended light curve (days, relative flux).
    min_period_days, max_period_days : float
        Period range; the maximum defaults to half the time baseline (two transits).
    n_periods : int
        Size of the log-uniform period grid.
    durations_hours : sequence of float
        Trial durations [hours]. The period grid is searched in :data:`_PERIOD_CHUNKS` log-spaced
        chunks, each with the durations that suit its periods (:func:`durations_for_periods`):
        long periods get long boxes, so a 5-hour transit at 10 days is not measured with a
        2-hour box because the shortest period searched is half a day.
    max_plot_points : int
        The returned periodogram is reduced to at most this many points (keeping the
        maximum power of each chunk) so it can be stored and plotted.

    Returns
    -------
    BLSResult
    """
    from astropy.timeseries import BoxLeastSquares  # lazily: astropy import is slow

    time, flux, flux_err = as_arrays(time, flux, flux_err)
    good = require_usable(time, flux)
    t, f = time[good], flux[good]
    e = flux_err[good]
    e = None if np.isnan(e).any() else e
    baseline = float(t.max() - t.min())
    max_p = max_period_days or baseline / 2.0
    if not max_p > min_period_days:
        raise LightCurveError(
            f"the light curve spans {baseline:.2f} days: too short to search periods "
            f"between {min_period_days} and {max_p:.2f} days")
    if not any(d / 24.0 < min_period_days / 4 for d in durations_hours):
        raise LightCurveError("no trial duration is shorter than a quarter of the minimum period")
    periods = np.exp(np.linspace(np.log(min_period_days), np.log(max_p), int(n_periods)))
    bls = BoxLeastSquares(t, f, dy=e)
    parts = []
    for chunk in np.array_split(periods, min(_PERIOD_CHUNKS, periods.size)):
        durations = durations_for_periods(float(chunk[0]), float(chunk[-1]), durations_hours)
        if durations.size:
            parts.append(bls.power(chunk, durations, objective="likelihood"))
    res_period = np.concatenate([np.asarray(r.period, float) for r in parts])
    power = np.nan_to_num(np.concatenate([np.asarray(r.power, float) for r in parts]), nan=0.0)
    res_t0 = np.concatenate([np.asarray(r.transit_time, float) for r in parts])
    res_dur = np.concatenate([np.asarray(r.duration, float) for r in parts])
    res_depth = np.concatenate([np.asarray(r.depth, float) for r in parts])
    i = int(np.argmax(power))
    depth = float(res_depth[i])
    # SNR from the robust scatter and the number of in-transit points (astropy's
    # depth_err assumes dy=1 when no uncertainties are given)
    in_transit = np.abs(phase_fold(t, period_days=float(res_period[i]), epoch=float(res_t0[i]))
                        * res_period[i]) < 0.5 * res_dur[i]
    depth_err = point_scatter(f) / np.sqrt(max(int(in_transit.sum()), 1))
    if power.size > max_plot_points:  # keep peaks: max of each chunk
        chunks = np.array_split(np.arange(power.size), max_plot_points)
        pick = np.array([c[np.argmax(power[c])] for c in chunks])
    else:
        pick = np.arange(power.size)
    return BLSResult(
        period_days=float(res_period[i]), epoch=float(res_t0[i]),
        duration_hours=float(res_dur[i]) * 24.0, depth_ppm=depth * 1e6,
        snr=depth / depth_err if depth_err > 0 else float("nan"),
        periods_days=res_period[pick], power=power[pick])
