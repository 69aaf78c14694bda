"""Plot payloads of candidate pages: the small arrays every figure needs, computed once.

Two steps, so a page request never processes a light curve:

1. :func:`plot_payload` (run once at import time, on the light curve already cleaned and
   detrended and on the metrics already measured, see :func:`classifier.products.lightcurve_products`)
   folds and bins it and returns a small JSON-serialisable dict that the site stores
   (``Candidate.plot_payload``; about 60-100 kB of JSON, see :data:`PAYLOAD_VERSION`).
   :func:`views_payload` does the same from pre-folded Astronet global/local views (no raw time
   series). The metrics are NOT stored in the payload (they are ``Candidate.features``): the
   payload holds arrays only.
2. The figure builders (``*_figure``, in :mod:`classifier.figures` and re-exported here) take that
   payload, and the candidate's metrics where a figure annotates one, and return plotly figure
   dicts (``{"data": [...], "layout": {...}}``), JSON-serialisable, for ``Plotly.newPlot``.

Flux in figures is relative flux in ppm (0 = out-of-transit level, negative = dimmer);
views are in Astronet units (median 0, transit minimum -1).
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from classifier import lightcurves as lcmod
from classifier.features import trapezoid_model
from classifier.figures import (
    SECONDARY_KEYS,
    all_figures,
    folded_figure,
    odd_even_figure,
    per_transit_figure,
    periodogram_figure,
    phase_figure,
    reliability_figure,
    robust_range,
    secondary_figure,
    timeseries_figure,
    views_figure,
)
from classifier.jsonutil import json_floats, json_number
from classifier.periodogram import BLSResult

#: 3: bins carry their standard errors (``err_ppm``) and a time-strided sample of the raw points
#: (``raw_*``); the whole orbit spans phase -0.25..0.75; the secondary window is centred on the
#: strongest secondary of the metrics (``secondary.centre_phase``); per-transit depths and a
#: river diagram (``transits``). 2: metrics no longer stored in the payload. Figures still draw
#: payloads of versions 1 and 2 (without the parts they lack).
PAYLOAD_VERSION = 3
#: Bins of the full time series and of the transit zoom.
TIMESERIES_BINS = 1000
ZOOM_BINS = 90
ZOOM_DURATIONS = 3.0  # zoom window: +/- 3 transit durations
MAX_TRANSIT_MARKS = 300
#: Whole-orbit phase range (cycles): the transit at 0 and a circular orbit's secondary at 0.5
#: both lie whole inside it.
ORBIT_RANGE = (-0.25, 0.75)
#: Most raw points kept per panel (a time-strided sample, so every transit keeps its share).
RAW_ZOOM_POINTS = 800
RAW_ORBIT_POINTS = 600
RAW_SECONDARY_POINTS = 400
#: Per-transit panel: bins across the zoom window per row of the river diagram, most rows
#: (more transits are averaged in runs of consecutive ones) and most per-transit depths.
RIVER_BINS = 30
MAX_RIVER_ROWS = 60
MAX_TRANSIT_DEPTHS = 200
#: Most points of the stored BLS periodogram.
BLS_PLOT_POINTS = 1000
#: Significant digits stored: binned values keep 6, errors and raw positions 4, raw fluxes 3 (a
#: thousandth of a point's value is far below what a plot resolves); times keep 9 (BJD days).
_BIN_DIGITS, _RAW_DIGITS, _RAW_FLUX_DIGITS = 6, 4, 3


def _floats(values, digits: int = _BIN_DIGITS) -> list:
    """Floats as a list, NaN/inf as None (JSON has no NaN), ``digits`` significant digits."""
    return json_floats(values, digits=digits)


def _ppm(flux, baseline):
    return (np.asarray(flux, float) / baseline - 1.0) * 1e6


def _metric(metrics: Mapping | None, key: str) -> float | None:
    return json_number((metrics or {}).get(key))


def _binned(x, y, *, n_bins: int, x_range: tuple[float, float]):
    """Mean of ``y`` in ``n_bins`` equal bins of ``x`` over ``x_range`` with its standard error.

    Returns ``(centres, mean, err, counts)``, each of shape ``(n_bins,)``; ``mean`` is NaN in an
    empty bin and ``err`` (sample standard deviation / sqrt(count)) in a bin of fewer than 2 points.
    """
    centres, mean, counts = lcmod.bin_curve(x, y, n_bins=n_bins, x_range=x_range, statistic="mean")
    lo, hi = x_range
    x, y = np.asarray(x, float), np.asarray(y, float)
    ok = np.isfinite(x) & np.isfinite(y) & (x >= lo) & (x < hi)
    idx = np.minimum(((x[ok] - lo) / ((hi - lo) / n_bins)).astype(np.int64), n_bins - 1)
    resid = y[ok] - mean[idx]
    ss = np.bincount(idx, resid * resid, minlength=n_bins)
    err = np.full(n_bins, np.nan)
    many = counts >= 2
    err[many] = np.sqrt(ss[many] / (counts[many] - 1) / counts[many])
    return centres, mean, err, counts


def _sample(n: int, k: int) -> np.ndarray:
    """Indices of at most ``k`` of ``n`` time-ordered points, evenly strided (deterministic)."""
    if n <= k:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, k).round().astype(np.int64))


def _raw(x, y, keep, k: int, **extra) -> dict:
    """The raw points ``keep`` (a mask) as a strided sample of at most ``k``: ``raw_x``-style lists."""
    x, y = np.asarray(x)[keep], np.asarray(y)[keep]
    idx = _sample(x.size, k)
    return {"raw_x": _floats(x[idx], _RAW_DIGITS), "raw_ppm": _floats(y[idx], _RAW_FLUX_DIGITS),
            **{name: [int(v) for v in np.asarray(arr)[keep][idx]] for name, arr in extra.items()}}


# --------------------------------------------------------------------------------------
# payloads (the expensive part)
# --------------------------------------------------------------------------------------

def plot_payload(lc: lcmod.LightCurve, metrics: Mapping[str, float | None], *, period_days: float,
                 epoch: float, duration_hours: float, time_system: str | None = None,
                 bls: BLSResult | None = None) -> dict:
    """Fold and bin a prepared light curve into the small arrays every figure needs.

    Parameters
    ----------
    lc : classifier.lightcurves.LightCurve
        Cleaned, detrended light curve (:func:`classifier.lightcurves.prepare`), time in days.
    metrics : mapping
        Its vetting metrics (:func:`classifier.features.vetting_metrics`): the trapezoid fit
        draws the transit model and the strongest secondary's phase (``SECONDARY_KEYS["phase"]``,
        0..1) centres the secondary window (phase 0.5 when absent). Not stored in the payload.
    period_days, epoch, duration_hours : float
        Candidate ephemeris, ``epoch`` in the time system of ``lc``.
    time_system : str, optional
        ``BKJD``, ``BTJD`` or ``BJD``, for the time axis title.
    bls : BLSResult, optional
        A periodogram to store for :func:`periodogram_figure`.

    Returns
    -------
    dict
        JSON-serialisable (flux in ppm, hours from mid-transit, phase in cycles):
        ``ephemeris``; ``timeseries`` (1000 time bins: ``time_bins`` = first centre, width,
        count); ``transit_times``; ``folded`` (whole orbit,
        201 bins over :data:`ORBIT_RANGE`); ``zoom`` (90 bins of +/- 3 durations with the trapezoid
        model); ``odd``, ``even`` (45 bins each); ``secondary`` (45 bins around
        ``centre_phase``); ``transits`` (per-transit depths and the river diagram);
        ``global_view``, ``local_view``; optionally ``bls``. Binned parts hold ``err_ppm``
        (standard errors) and raw parts ``raw_x``/``raw_ppm`` samples.

    Raises
    ------
    classifier.lightcurves.LightCurveError
        If the light curve is empty.
    """
    t, f = np.asarray(lc.time, float), np.asarray(lc.flux, float)
    if t.size == 0:
        raise lcmod.LightCurveError("the light curve has no usable points to plot")
    phase = lcmod.phase_fold(t, period_days=period_days, epoch=epoch)
    x_hours = phase * period_days * 24.0
    oot = np.abs(x_hours) > duration_hours
    baseline = float(np.median(f[oot])) if oot.sum() >= 3 else float(np.median(f))
    ppm = _ppm(f, baseline)
    cycle = np.floor((t - epoch) / period_days + 0.5).astype(np.int64)

    # full time series, binned in time (keeps gaps as empty bins)
    tc, tv, _ = lcmod.bin_curve(t, ppm, n_bins=min(TIMESERIES_BINS, t.size),
                                x_range=(t[0], t[-1] + 1e-9), statistic="mean")
    n_first = math.ceil((t[0] - epoch) / period_days)
    transit_times = epoch + period_days * np.arange(n_first, n_first + MAX_TRANSIT_MARKS)
    transit_times = transit_times[transit_times <= t[-1]]

    # whole orbit over -0.25..0.75 (transit and phase-0.5 secondary both whole)
    orbit = np.where(phase < ORBIT_RANGE[0], phase + 1.0, phase)
    fc, fv, fe, _ = _binned(orbit, ppm, n_bins=lcmod.GLOBAL_VIEW_BINS, x_range=ORBIT_RANGE)

    # the zoom on the transit, with the trapezoid model and the raw points around it
    half = min(ZOOM_DURATIONS * duration_hours, 0.5 * period_days * 24.0)
    window = np.abs(x_hours) < half
    zc, zv, ze, zn = _binned(x_hours, ppm, n_bins=ZOOM_BINS, x_range=(-half, half))
    zoom_model = np.full(ZOOM_BINS, np.nan)
    trapezoid = [_metric(metrics, k) for k in ("trapezoid_depth_ppm", "trapezoid_duration_hours",
                                                "shape_flat_fraction")]
    if None not in trapezoid:
        depth_ppm, total_hours, flat = trapezoid
        zoom_model = (trapezoid_model(zc, depth_ppm * 1e-6, total_hours, flat, 0.0) - 1.0) * 1e6

    # odd and even transits on the same grid (cycle 0, the epoch's transit, is even)
    odd = (cycle % 2) == 1
    oc, ov, oe, _ = _binned(x_hours[odd], ppm[odd], n_bins=ZOOM_BINS // 2, x_range=(-half, half))
    _, ev, ee, _ = _binned(x_hours[~odd], ppm[~odd], n_bins=ZOOM_BINS // 2, x_range=(-half, half))

    # the window around the strongest secondary (phase 0.5 when the metrics have none)
    centre = _metric(metrics, SECONDARY_KEYS["phase"])
    centre = 0.5 if centre is None else float(centre) % 1.0
    x_sec = ((phase - centre + 0.5) % 1.0 - 0.5) * period_days * 24.0
    sc, sv, se, _ = _binned(x_sec, ppm, n_bins=ZOOM_BINS // 2, x_range=(-half, half))

    payload = {
        "version": PAYLOAD_VERSION,
        "kind": "lightcurve",
        "ephemeris": {"period_days": float(period_days), "epoch": float(epoch),
                      "duration_hours": float(duration_hours)},
        # the time bins are evenly spaced: their first centre and width stand for the 1000 times
        "timeseries": {"time_bins": [float(tc[0]), float(tc[1] - tc[0]) if tc.size > 1 else 0.0, int(tc.size)],
                       "flux_ppm": _floats(tv, 5),
                       "time_range": [float(t[0]), float(t[-1])], "time_system": time_system},
        "transit_times": _floats(transit_times, 9),
        "folded": {"phase": _floats(fc), "flux_ppm": _floats(fv), "err_ppm": _floats(fe, _RAW_DIGITS),
                   **_raw(orbit, ppm, np.isfinite(ppm), RAW_ORBIT_POINTS)},
        "zoom": {"hours": _floats(zc), "flux_ppm": _floats(zv), "err_ppm": _floats(ze, _RAW_DIGITS),
                 "model_ppm": _floats(zoom_model), "counts": [int(c) for c in zn],
                 **_raw(x_hours, ppm, window, RAW_ZOOM_POINTS, raw_cycle=cycle)},
        "odd": {"hours": _floats(oc), "flux_ppm": _floats(ov), "err_ppm": _floats(oe, _RAW_DIGITS)},
        "even": {"hours": _floats(oc), "flux_ppm": _floats(ev), "err_ppm": _floats(ee, _RAW_DIGITS)},
        "secondary": {"centre_phase": round(centre, 5), "hours": _floats(sc), "flux_ppm": _floats(sv),
                      "err_ppm": _floats(se, _RAW_DIGITS),
                      **_raw(x_sec, ppm, np.abs(x_sec) < half, RAW_SECONDARY_POINTS)},
        "transits": _per_transit(cycle[window], x_hours[window], ppm[window],
                                 duration_hours=duration_hours, half=half),
    }
    payload.update(_views_part(t, f, period_days, epoch, duration_hours))
    if bls is not None:
        payload["bls"] = bls_payload(bls)
    return payload


def _group_rows(cycles: np.ndarray, max_rows: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Rows of a per-transit table: each distinct cycle its own row, or runs of ``k``
    consecutive observed cycles averaged together when there are more than ``max_rows``.

    Returns ``(row of each point, first cycle of each row, k)``.
    """
    distinct, inverse = np.unique(cycles, return_inverse=True)
    k = max(1, math.ceil(distinct.size / max_rows))
    row = inverse // k
    return row, distinct[::k], k


def _per_transit(cycle, x_hours, ppm, *, duration_hours: float, half: float) -> dict:
    """Per-transit depths and a river diagram from the points within the zoom window.

    Parameters
    ----------
    cycle : array of int (n,)
        Transit number of each point (0 = the epoch's transit).
    x_hours, ppm : array (n,)
        Hours from that transit's mid-time and relative flux (ppm).
    duration_hours, half : float
        Transit duration and the window's half width (hours).

    Returns
    -------
    dict
        ``cycle``, ``depth_ppm``, ``err_ppm``, ``n_points`` per transit (or per run of
        ``cycles_per_row`` consecutive transits; at most :data:`MAX_TRANSIT_DEPTHS`): depth =
        mean out-of-transit level of that window minus the mean of the central half of the
        transit (as the ``depth_ppm`` metric), error from the window's out-of-transit scatter;
        ``river``: ``hours`` (:data:`RIVER_BINS` centres), ``first_cycle`` and ``flux_ppm`` rows
        (at most :data:`MAX_RIVER_ROWS`, mean flux per bin).
    """
    ok = np.isfinite(ppm)
    cycle, x_hours, ppm = cycle[ok], x_hours[ok], ppm[ok]
    empty = {"cycle": [], "depth_ppm": [], "err_ppm": [], "n_points": [], "cycles_per_row": 1,
             "river": {"hours": [], "first_cycle": [], "flux_ppm": []}}
    if cycle.size == 0:
        return empty
    core = np.abs(x_hours) < 0.25 * duration_hours
    out = np.abs(x_hours) > 0.75 * duration_hours
    row, first, k = _group_rows(cycle, MAX_TRANSIT_DEPTHS)
    n = first.size
    n_core = np.bincount(row[core], minlength=n)
    n_out = np.bincount(row[out], minlength=n)
    core_sum = np.bincount(row[core], ppm[core], minlength=n)
    out_sum = np.bincount(row[out], ppm[out], minlength=n)
    out_ss = np.bincount(row[out], ppm[out] ** 2, minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        level = np.where(n_out >= 3, out_sum / np.maximum(n_out, 1), 0.0)
        scatter = np.sqrt(np.maximum(out_ss / np.maximum(n_out, 1) - level**2, 0.0) * n_out / np.maximum(n_out - 1, 1))
        depth = np.where(n_core > 0, level - core_sum / np.maximum(n_core, 1), np.nan)
        err = np.where((n_core > 0) & (n_out >= 3), scatter / np.sqrt(np.maximum(n_core, 1)), np.nan)
    keep = n_core > 0

    rrow, rfirst, _ = _group_rows(cycle, MAX_RIVER_ROWS)
    width = 2.0 * half / RIVER_BINS
    col = np.clip(((x_hours + half) / width).astype(np.int64), 0, RIVER_BINS - 1)
    cell = rrow * RIVER_BINS + col
    cells = rfirst.size * RIVER_BINS
    counts = np.bincount(cell, minlength=cells)
    sums = np.bincount(cell, ppm, minlength=cells)
    river = np.full(cells, np.nan)
    np.divide(sums, counts, out=river, where=counts > 0)
    centres = -half + width * (np.arange(RIVER_BINS) + 0.5)
    return {
        "cycle": [int(c) for c in first[keep]],
        "depth_ppm": _floats(depth[keep]), "err_ppm": _floats(err[keep], _RAW_DIGITS),
        "n_points": [int(c) for c in n_core[keep]], "cycles_per_row": int(k),
        "river": {"hours": _floats(centres), "first_cycle": [int(c) for c in rfirst],
                  "flux_ppm": [_floats(r, _RAW_FLUX_DIGITS) for r in river.reshape(rfirst.size, RIVER_BINS)]},
    }


def _views_part(t, f, period_days, epoch, duration_hours) -> dict:
    try:
        g = lcmod.global_view(t, f, period_days=period_days, epoch=epoch)
        loc = lcmod.local_view(t, f, period_days=period_days, epoch=epoch,
                               duration_hours=duration_hours)
    except lcmod.LightCurveError:  # a flat fold has no normalisable view
        return {"global_view": None, "local_view": None}
    return {"global_view": _floats(g), "local_view": _floats(loc)}


def views_payload(global_view: Sequence[float], local_view: Sequence[float], *,
                  period_days: float | None = None, duration_hours: float | None = None) -> dict:
    """Payload from pre-folded views only (Astronet ``views.npz``: 201 and 61 bins)."""
    g = np.asarray(global_view, float).ravel()
    loc = np.asarray(local_view, float).ravel()
    if g.size == 0 or loc.size == 0:
        raise lcmod.LightCurveError("global and local views must not be empty")
    return {"version": PAYLOAD_VERSION, "kind": "views",
            "ephemeris": {"period_days": json_number(period_days), "epoch": None,
                          "duration_hours": json_number(duration_hours)},
            "global_view": _floats(g), "local_view": _floats(loc)}


def bls_payload(bls: BLSResult) -> dict:
    """The BLS periodogram and best peak as a JSON-serialisable dict: at most
    :data:`BLS_PLOT_POINTS` points (the highest of each run of neighbours, so no peak is lost),
    periods to 6 significant digits and power to 4 (what a log-period plot resolves)."""
    periods, power = np.asarray(bls.periods_days, float), np.asarray(bls.power, float)
    if power.size > BLS_PLOT_POINTS:
        chunks = np.array_split(np.arange(power.size), BLS_PLOT_POINTS)
        peaks = np.array([c[np.nanargmax(power[c])] if np.isfinite(power[c]).any() else c[0] for c in chunks])
        periods, power = periods[peaks], power[peaks]
    return {"periods_days": _floats(periods, 6), "power": _floats(power, _RAW_DIGITS),
            "best_period_days": float(bls.period_days), "epoch": float(bls.epoch),
            "duration_hours": float(bls.duration_hours), "depth_ppm": json_number(bls.depth_ppm),
            "snr": json_number(bls.snr)}


__all__ = [
    "PAYLOAD_VERSION", "all_figures", "bls_payload", "folded_figure", "odd_even_figure", "per_transit_figure",
    "periodogram_figure", "phase_figure", "plot_payload", "reliability_figure", "robust_range", "secondary_figure",
    "timeseries_figure", "views_figure", "views_payload",
]
