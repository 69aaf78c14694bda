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


def bls_search(time, flux, flux_err=None, *, min_period_days: float = 0.5,
               max_period_days: float | None = None, n_periods: int = 20000,
               durations_hours=(1.0, 2.0, 3.0, 5.0, 8.0, 12.0),
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
        Trial durations; those longer than a quarter of ``min_period_days`` are dropped.
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
    durations = np.array([d for d in durations_hours if d / 24.0 < min_period_days / 4]) / 24.0
    if durations.size == 0:
        raise LightCurveError("no trial duration is shorter than a quarter of the minimum period")
    periods = np.exp(np.linspace(np.log(min_period_days), np.log(max_p), int(n_periods)))
    bls = BoxLeastSquares(t, f, dy=e)
    res = bls.power(periods, durations, objective="likelihood")
    power = np.nan_to_num(np.asarray(res.power, float), nan=0.0)
    i = int(np.argmax(power))
    depth = float(res.depth[i])
    # SNR from the robust scatter and the number of in-transit points (astropy's
    # depth_err assumes dy=1 when no uncertainties are given)
    in_transit = np.abs(phase_fold(t, period_days=float(res.period[i]),
                                   epoch=float(res.transit_time[i]))
                        * res.period[i]) < 0.5 * res.duration[i]
    depth_err = point_scatter(f) / np.sqrt(max(int(in_transit.sum()), 1))
    if power.size > max_plot_points:  # keep peaks: max of each chunk
        chunks = np.array_split(np.arange(power.size), max_plot_points)
        pick = np.array([c[np.argmax(power[c])] for c in chunks])
    else:
        pick = np.arange(power.size)
    return BLSResult(
        period_days=float(res.period[i]), epoch=float(res.transit_time[i]),
        duration_hours=float(res.duration[i]) * 24.0, depth_ppm=depth * 1e6,
        snr=depth / depth_err if depth_err > 0 else float("nan"),
        periods_days=np.asarray(res.period, float)[pick], power=power[pick])
