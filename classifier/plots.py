"""Plot payloads and plotly figure builders for candidate pages.

Two steps, so a page request never processes a light curve:

1. :func:`plot_payload` (run once at import time, on the light curve already cleaned and
   detrended and on the metrics already measured, see :func:`classifier.products.lightcurve_products`)
   folds and bins it and returns a small JSON-serialisable dict (about 3,000 numbers: lists of
   floats, ``None`` for NaN) that the site stores. :func:`views_payload` does the same from
   pre-folded Astronet global/local views (no raw time series). The metrics are NOT stored in
   the payload (they are ``Candidate.features``): the payload holds arrays only.
2. The figure builders (``*_figure``) take that payload, and the candidate's metrics where a
   figure annotates one, and return plotly figure dicts (``{"data": [...], "layout": {...}}``,
   what ``go.Figure.to_plotly_json()`` gives), JSON-serialisable, for ``Plotly.newPlot``.

Flux in figures is relative flux in ppm (0 = out-of-transit level, negative = dimmer);
views are in Astronet units (median 0, transit minimum -1).
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from classifier import lightcurves as lcmod
from classifier.features import trapezoid_model
from classifier.jsonutil import json_floats, json_number
from classifier.periodogram import BLSResult
from classifier.timesystems import time_axis_title

#: 2: metrics are no longer stored in the payload (read ``Candidate.features``); the time
#: series records its time system.
PAYLOAD_VERSION = 2
#: Bins of the full time series and of the transit zoom.
TIMESERIES_BINS = 1000
ZOOM_BINS = 90
ZOOM_DURATIONS = 3.0  # zoom window: +/- 3 transit durations
MAX_TRANSIT_MARKS = 300

_TRANSIT_COLOR = "#d62728"
_DATA_COLOR = "#1f77b4"
_RAW_COLOR = "rgba(120,120,120,0.35)"


def _jsonable(values) -> list:
    """Floats as a list, NaN/inf as None (JSON has no NaN); 7 significant digits."""
    return json_floats(values, digits=7)


def _ppm(flux, baseline):
    return (np.asarray(flux, float) / baseline - 1.0) * 1e6


def _metric(metrics: Mapping | None, key: str) -> float | None:
    return json_number((metrics or {}).get(key))


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
        Its vetting metrics (:func:`classifier.features.vetting_metrics`); the trapezoid fit
        draws the transit model. Not stored in the payload.
    period_days, epoch, duration_hours : float
        Candidate ephemeris, ``epoch`` in the time system of ``lc``.
    time_system : str, optional
        ``BKJD``, ``BTJD`` or ``BJD``, for the time axis title.
    bls : BLSResult, optional
        A periodogram to store for :func:`periodogram_figure`.

    Returns
    -------
    dict
        JSON-serialisable: ``ephemeris``, ``timeseries``, ``transit_times``, ``folded`` (whole
        orbit), ``zoom`` (with trapezoid model), ``odd``, ``even``, ``secondary``,
        ``global_view``, ``local_view`` and optionally ``bls``.

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

    # full time series, binned in time (keeps gaps as empty bins)
    tc, tv, _ = lcmod.bin_curve(t, ppm, n_bins=min(TIMESERIES_BINS, t.size),
                                x_range=(t[0], t[-1] + 1e-9), statistic="mean")
    n_first = math.ceil((t[0] - epoch) / period_days)
    transit_times = epoch + period_days * np.arange(n_first, n_first + MAX_TRANSIT_MARKS)
    transit_times = transit_times[transit_times <= t[-1]]

    # whole orbit and the zoom on the transit
    fc, fv, _ = lcmod.bin_curve(phase, ppm, n_bins=lcmod.GLOBAL_VIEW_BINS, x_range=(-0.5, 0.5))
    half = min(ZOOM_DURATIONS * duration_hours, 0.5 * period_days * 24.0)
    zc, zv, zn = lcmod.bin_curve(x_hours, ppm, n_bins=ZOOM_BINS, x_range=(-half, half),
                                 statistic="mean")
    zoom_model = np.full(ZOOM_BINS, np.nan)
    trapezoid = [_metric(metrics, k) for k in ("trapezoid_depth_ppm", "trapezoid_duration_hours",
                                                "shape_flat_fraction")]
    if None not in trapezoid:
        depth_ppm, total_hours, flat = trapezoid
        zoom_model = (trapezoid_model(zc, depth_ppm * 1e-6, total_hours, flat, 0.0) - 1.0) * 1e6

    # odd and even transits on the same grid, and the window around phase 0.5
    cycle = np.floor((t - epoch) / period_days + 0.5)
    odd = (cycle % 2) == 1
    oc, ov, _ = lcmod.bin_curve(x_hours[odd], ppm[odd], n_bins=ZOOM_BINS // 2,
                                x_range=(-half, half), statistic="mean")
    _, ev, _ = lcmod.bin_curve(x_hours[~odd], ppm[~odd], n_bins=ZOOM_BINS // 2,
                               x_range=(-half, half), statistic="mean")
    x_sec = (np.where(phase < 0, phase + 1.0, phase) - 0.5) * period_days * 24.0
    sc, sv, _ = lcmod.bin_curve(x_sec, ppm, n_bins=ZOOM_BINS // 2, x_range=(-half, half),
                                statistic="mean")

    payload = {
        "version": PAYLOAD_VERSION,
        "kind": "lightcurve",
        "ephemeris": {"period_days": float(period_days), "epoch": float(epoch),
                      "duration_hours": float(duration_hours)},
        "timeseries": {"time": _jsonable(tc), "flux_ppm": _jsonable(tv),
                       "time_range": [float(t[0]), float(t[-1])], "time_system": time_system},
        "transit_times": _jsonable(transit_times),
        "folded": {"phase": _jsonable(fc), "flux_ppm": _jsonable(fv)},
        "zoom": {"hours": _jsonable(zc), "flux_ppm": _jsonable(zv),
                 "model_ppm": _jsonable(zoom_model), "counts": [int(c) for c in zn]},
        "odd": {"hours": _jsonable(oc), "flux_ppm": _jsonable(ov)},
        "even": {"hours": _jsonable(oc), "flux_ppm": _jsonable(ev)},
        "secondary": {"hours": _jsonable(sc), "flux_ppm": _jsonable(sv)},
    }
    payload.update(_views_part(t, f, period_days, epoch, duration_hours))
    if bls is not None:
        payload["bls"] = bls_payload(bls)
    return payload


def _views_part(t, f, period_days, epoch, duration_hours) -> dict:
    try:
        g = lcmod.global_view(t, f, period_days=period_days, epoch=epoch)
        loc = lcmod.local_view(t, f, period_days=period_days, epoch=epoch,
                               duration_hours=duration_hours)
    except lcmod.LightCurveError:  # a flat fold has no normalisable view
        return {"global_view": None, "local_view": None}
    return {"global_view": _jsonable(g), "local_view": _jsonable(loc)}


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
            "global_view": _jsonable(g), "local_view": _jsonable(loc)}


def bls_payload(bls: BLSResult) -> dict:
    """The BLS periodogram and best peak as a JSON-serialisable dict."""
    return {"periods_days": _jsonable(bls.periods_days), "power": _jsonable(bls.power),
            "best_period_days": float(bls.period_days), "epoch": float(bls.epoch),
            "duration_hours": float(bls.duration_hours), "depth_ppm": json_number(bls.depth_ppm),
            "snr": json_number(bls.snr)}


# --------------------------------------------------------------------------------------
# figure builders (cheap: payload in, plotly dict out)
# --------------------------------------------------------------------------------------

def _layout(title: str, xtitle: str, ytitle: str, **extra) -> dict:
    layout = {"title": {"text": title}, "xaxis": {"title": {"text": xtitle}},
              "yaxis": {"title": {"text": ytitle}}, "template": "plotly_white",
              "margin": {"l": 60, "r": 20, "t": 50, "b": 50},
              "legend": {"orientation": "h", "y": -0.2}}
    layout.update(extra)
    return layout


def _scatter(x, y, name, *, mode="markers", color=_DATA_COLOR, **extra) -> dict:
    trace = {"type": "scatter", "x": x, "y": y, "name": name, "mode": mode}
    if mode == "markers":
        trace["marker"] = {"size": 5, "color": color}
    else:
        trace["line"] = {"color": color, "width": 2}
    trace.update(extra)
    return trace


def _require(payload: Mapping, *keys: str) -> None:
    missing = [k for k in keys if payload.get(k) is None]
    if missing:
        raise ValueError(f"plot payload has no {', '.join(missing)} "
                         f"(kind {payload.get('kind')!r}); rebuild it with plot_payload()")


def folded_figure(payload: Mapping) -> dict:
    """Folded, binned light curve with the trapezoid transit model; zoomed on the transit."""
    _require(payload, "zoom")
    eph = payload["ephemeris"]
    zoom = payload["zoom"]
    data = [_scatter(zoom["hours"], zoom["flux_ppm"], "binned flux"),
            _scatter(zoom["hours"], zoom["model_ppm"], "transit model (trapezoid)",
                     mode="lines", color=_TRANSIT_COLOR)]
    half = 0.5 * (eph.get("duration_hours") or 0)
    layout = _layout(f"Folded on P = {eph['period_days']:.5g} d", "Hours from mid-transit",
                     "Relative flux (ppm)")
    layout["shapes"] = [{"type": "rect", "xref": "x", "yref": "paper", "x0": -half, "x1": half,
                         "y0": 0, "y1": 1, "fillcolor": "rgba(214,39,40,0.08)", "line": {"width": 0}}]
    return {"data": data, "layout": layout}


def phase_figure(payload: Mapping) -> dict:
    """The whole orbit folded and binned (phase -0.5..0.5, transit at 0)."""
    _require(payload, "folded")
    eph = payload["ephemeris"]
    data = [_scatter(payload["folded"]["phase"], payload["folded"]["flux_ppm"], "binned flux")]
    return {"data": data, "layout": _layout(f"Whole orbit, P = {eph['period_days']:.5g} d",
                                            "Phase (cycles)", "Relative flux (ppm)")}


def _metrics(payload: Mapping, metrics: Mapping | None) -> Mapping:
    """The candidate's metrics; payloads of version 1 (stored before ``recompute_products``)
    carried their own copy, used when none is given."""
    return (metrics if metrics is not None else payload.get("metrics")) or {}


def odd_even_figure(payload: Mapping, metrics: Mapping | None = None) -> dict:
    """Odd and even transits side by side with their measured depths (from ``metrics``)."""
    _require(payload, "odd", "even")
    metrics = _metrics(payload, metrics)
    data, shapes, annotations = [], [], []
    for i, key in enumerate(("odd", "even"), start=1):
        part = payload[key]
        axis = "" if i == 1 else str(i)
        data.append(_scatter(part["hours"], part["flux_ppm"], f"{key} transits",
                             xaxis=f"x{axis}", yaxis=f"y{axis}",
                             color=_DATA_COLOR if key == "odd" else "#2ca02c"))
        depth = _metric(metrics, f"{key}_depth_ppm")
        if depth is not None:
            shapes.append({"type": "line", "xref": f"x{axis} domain", "yref": f"y{axis}",
                           "x0": 0, "x1": 1, "y0": -depth, "y1": -depth,
                           "line": {"color": _TRANSIT_COLOR, "dash": "dash"}})
            annotations.append({"xref": f"x{axis} domain", "yref": "paper", "x": 0.5, "y": 1.0,
                                "showarrow": False, "yanchor": "bottom",
                                "text": f"{key}: depth {depth:.0f} ppm"})
    sigma = _metric(metrics, "odd_even_sigma")
    title = "Odd vs even transits" + (f" (difference {sigma:.1f} sigma)" if sigma is not None else "")
    layout = _layout(title, "Hours from mid-transit", "Relative flux (ppm)")
    layout.update({"xaxis": {"domain": [0, 0.48], "title": {"text": "Hours from mid-transit (odd)"}},
                   "xaxis2": {"domain": [0.52, 1], "anchor": "y2",
                              "title": {"text": "Hours from mid-transit (even)"}},
                   "yaxis2": {"anchor": "x2", "matches": "y", "showticklabels": False},
                   "shapes": shapes, "annotations": annotations})
    return {"data": data, "layout": layout}


def secondary_figure(payload: Mapping, metrics: Mapping | None = None) -> dict:
    """The window around phase 0.5, where an eclipsing binary shows its secondary eclipse."""
    _require(payload, "secondary")
    metrics = _metrics(payload, metrics)
    part = payload["secondary"]
    data = [_scatter(part["hours"], part["flux_ppm"], "binned flux near phase 0.5")]
    title = "Secondary eclipse window (phase 0.5)"
    depth = _metric(metrics, "secondary_depth_ppm")
    if depth is not None:
        sig = _metric(metrics, "secondary_sigma")
        title += f": depth {depth:.0f} ppm" + (f", {sig:.1f} sigma" if sig is not None else "")
    return {"data": data, "layout": _layout(title, "Hours from phase 0.5", "Relative flux (ppm)")}


def views_figure(payload: Mapping) -> dict:
    """Astronet global view (whole orbit) and local view (around the transit) side by side."""
    _require(payload, "global_view", "local_view")
    g, loc = payload["global_view"], payload["local_view"]
    gx = _jsonable(np.linspace(-0.5, 0.5, len(g) + 1)[:-1] + 0.5 / len(g))
    lx = _jsonable(np.linspace(-2.0, 2.0, len(loc) + 1)[:-1] + 2.0 / len(loc))
    data = [_scatter(gx, g, "global view"),
            _scatter(lx, loc, "local view", xaxis="x2", yaxis="y2", color="#2ca02c")]
    layout = _layout("Global and local views (normalised: median 0, transit minimum -1)",
                     "Phase (cycles)", "Normalised flux")
    layout.update({"xaxis": {"domain": [0, 0.6], "title": {"text": "Phase (cycles)"}},
                   "xaxis2": {"domain": [0.66, 1], "anchor": "y2",
                              "title": {"text": "Transit durations from mid-transit"}},
                   "yaxis2": {"anchor": "x2", "title": {"text": "Normalised flux"}}})
    return {"data": data, "layout": layout}


def timeseries_figure(payload: Mapping) -> dict:
    """The full (binned, detrended) light curve with each predicted transit marked."""
    _require(payload, "timeseries")
    ts = payload["timeseries"]
    data = [_scatter(ts["time"], ts["flux_ppm"], "binned flux", marker={"size": 3, "color": _DATA_COLOR})]
    transit_times = payload.get("transit_times") or []
    if transit_times:
        ys = [v for v in ts["flux_ppm"] if v is not None]
        lo = min(ys) if ys else -1.0
        data.append({"type": "scatter", "mode": "markers", "name": "predicted transits",
                     "x": transit_times, "y": [lo] * len(transit_times),
                     "marker": {"symbol": "triangle-up", "size": 8, "color": _TRANSIT_COLOR}})
    return {"data": data, "layout": _layout("Detrended light curve", time_axis_title(ts.get("time_system")),
                                            "Relative flux (ppm)")}


def periodogram_figure(bls: Mapping) -> dict:
    """BLS periodogram (log period axis) with the best period marked.

    Accepts a :func:`bls_payload` dict or a plot payload that contains one under ``bls``.
    """
    bls = bls.get("bls", bls)
    if bls is None or "periods_days" not in bls:
        raise ValueError("no BLS periodogram in this payload; run periodogram.bls_search() and bls_payload()")
    data = [_scatter(bls["periods_days"], bls["power"], "BLS power", mode="lines", color=_DATA_COLOR)]
    best = bls["best_period_days"]
    layout = _layout(f"Box least squares periodogram (best {best:.5g} d)", "Period (days)",
                     "BLS power (log-likelihood)")
    layout["xaxis"]["type"] = "log"
    layout["shapes"] = [{"type": "line", "xref": "x", "yref": "paper", "x0": best, "x1": best,
                         "y0": 0, "y1": 1, "line": {"color": _TRANSIT_COLOR, "dash": "dot"}}]
    return {"data": data, "layout": layout}


def reliability_figure(bin_centres, observed_frequency, counts, *, label: str = "model") -> dict:
    """Reliability (calibration) diagram: predicted probability vs observed frequency.

    Parameters
    ----------
    bin_centres, observed_frequency : array (k,)
        Mean predicted probability per bin and the fraction of positives in it (0..1).
    counts : array (k,)
        Number of candidates per bin (shown as bars on a second axis).
    """
    x, y, n = (np.asarray(a, float).ravel() for a in (bin_centres, observed_frequency, counts))
    if not (x.size == y.size == n.size):
        raise ValueError("bin_centres, observed_frequency and counts must have the same length")
    data = [{"type": "scatter", "mode": "lines", "name": "perfectly calibrated",
             "x": [0, 1], "y": [0, 1], "line": {"dash": "dash", "color": "grey"}},
            _scatter(_jsonable(x), _jsonable(y), label, mode="lines+markers", color=_DATA_COLOR),
            {"type": "bar", "name": "candidates per bin", "x": _jsonable(x), "y": _jsonable(n),
             "yaxis": "y2", "opacity": 0.3, "marker": {"color": "grey"}}]
    layout = _layout("Reliability diagram", "Predicted probability", "Observed frequency")
    layout["xaxis"]["range"] = [0, 1]
    layout["yaxis"]["range"] = [0, 1]
    layout["yaxis2"] = {"overlaying": "y", "side": "right", "title": {"text": "Candidates per bin"},
                        "showgrid": False}
    return {"data": data, "layout": layout}


def all_figures(payload: Mapping, metrics: Mapping | None = None) -> dict[str, dict]:
    """Every figure a payload supports, by name (views-only payloads give just ``views``).

    ``metrics``: the candidate's vetting metrics (``Candidate.features``) for the depths and
    significances the odd/even and secondary figures annotate.
    """
    builders = {"timeseries": timeseries_figure, "folded": folded_figure, "phase": phase_figure,
                "odd_even": lambda p: odd_even_figure(p, metrics),
                "secondary": lambda p: secondary_figure(p, metrics), "views": views_figure}
    figures = {}
    for name, build in builders.items():
        try:
            figures[name] = build(payload)
        except ValueError:
            continue
    if payload.get("bls"):
        figures["periodogram"] = periodogram_figure(payload)
    return figures
