"""Plotly figure builders of the candidate page: stored plot payload in, figure dict out.

Pure functions (no I/O, no Django): each takes a payload of :func:`classifier.plots.plot_payload`
(any version: parts a payload lacks are simply not drawn) and, where a figure annotates a number,
the candidate's metrics (``Candidate.features``), and returns a JSON-serialisable plotly figure
(``{"data": [...], "layout": {...}}``) for ``Plotly.newPlot``. Only ``scatter``, ``bar`` and
``heatmap`` traces: what the vendored cartesian plotly.js bundle draws.

Conventions: flux in ppm relative to the out-of-transit level (negative = dimmer), hours from
mid-transit (or from the secondary's phase), orbital phase in cycles. Binned points carry error
bars (standard errors); a time-strided sample of the raw points is drawn faint behind them; the
y-axis range comes from the bins after a running median (so one outlier, raw or binned, never
sets the scale) widened to hold the transit model and the measured depths.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from classifier.jsonutil import json_floats, json_number
from classifier.timesystems import time_axis_title

#: Metric keys of the strongest secondary eclipse (whole-phase search) and of the phase-0.5 box.
SECONDARY_KEYS = {"phase": "secondary_best_phase", "depth": "secondary_best_depth_ppm",
                  "sigma": "secondary_best_sigma", "half_depth": "secondary_depth_ppm",
                  "half_sigma": "secondary_sigma"}
#: Whole-orbit x range (cycles): both eclipses whole.
ORBIT_RANGE = (-0.25, 0.75)

_TRANSIT_COLOR = "#d62728"
_SECONDARY_COLOR = "#ff7f0e"
_DATA_COLOR = "#1f77b4"
_EVEN_COLOR = "#2ca02c"
_RAW_COLOR = "rgba(110,110,110,0.28)"
#: River diagram: dimmer (negative ppm) blue, the out-of-transit level white, brighter red.
_RIVER_COLORS = [[0.0, "#08306b"], [0.25, "#2171b5"], [0.5, "#f7f7f7"], [0.75, "#ef8a62"], [1.0, "#b2182b"]]


def _metric(metrics: Mapping | None, key: str) -> float | None:
    return json_number((metrics or {}).get(key))


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


def _bins(x, y, err, name, *, color=_DATA_COLOR, **extra) -> dict:
    """Binned points, with their standard errors as error bars when the payload has them."""
    trace = _scatter(x, y, name, color=color, marker={"size": 6, "color": color}, **extra)
    if err is not None:
        trace["error_y"] = {"type": "data", "array": err, "visible": True, "thickness": 1, "width": 0,
                            "color": color}
    return trace


def _raw(x, y, *, name: str = "individual points (sample)", **extra) -> dict:
    """Raw points drawn faint behind the bins; no hover (they are context, not the measurement)."""
    return _scatter(x, y, name, marker={"size": 3, "color": _RAW_COLOR}, hoverinfo="skip", **extra)


def _finite(values) -> np.ndarray:
    arr = np.array([np.nan if v is None else v for v in (values or [])], float)
    return arr[np.isfinite(arr)]


def _smoothed(values) -> np.ndarray:
    """Running median over 5 bins (NaN-aware): a spike of one or two bins does not survive it."""
    arr = np.array([np.nan if v is None else v for v in (values or [])], float)
    if arr.size < 5:
        return arr[np.isfinite(arr)]
    padded = np.concatenate([np.full(2, np.nan), arr, np.full(2, np.nan)])
    windows = np.lib.stride_tricks.sliding_window_view(padded, 5)
    ok = np.isfinite(windows).any(axis=1)
    out = np.full(arr.size, np.nan)
    out[ok] = np.nanmedian(windows[ok], axis=1)
    return out[np.isfinite(out)]


def robust_range(*bins, errs=None, include=(), pad: float = 0.1) -> list[float] | None:
    """A y-axis range ``[low, high]`` that no outlier sets.

    Parameters
    ----------
    *bins : sequences of float or None
        Binned values (ppm); each is smoothed by a 5-bin running median before its extremes count.
    errs : sequence of float or None, optional
        Their standard errors; the range is widened by twice the median error.
    include : iterable of float or None
        Values the range must hold (0, the model's minimum, measured depths as negative ppm).
    pad : float
        Extra margin as a fraction of the span.

    Returns
    -------
    list of 2 floats, or None when there is nothing finite to scale to.
    """
    values = np.concatenate([_smoothed(b) for b in bins] + [_finite(list(include))])
    if values.size == 0:
        return None
    lo, hi = float(values.min()), float(values.max())
    e = _finite(errs)
    if e.size:
        lo, hi = lo - 2 * float(np.median(e)), hi + 2 * float(np.median(e))
    span = hi - lo if hi > lo else max(abs(hi), 1.0)
    return [lo - pad * span, hi + pad * span]


def _require(payload: Mapping, *keys: str) -> None:
    missing = [k for k in keys if payload.get(k) is None]
    if missing:
        raise ValueError(f"plot payload has no {', '.join(missing)} "
                         f"(kind {payload.get('kind')!r}); rebuild it with plot_payload()")


def _metrics(payload: Mapping, metrics: Mapping | None) -> Mapping:
    """The candidate's metrics; payloads of version 1 (stored before ``recompute_products``)
    carried their own copy, used when none is given."""
    return (metrics if metrics is not None else payload.get("metrics")) or {}


def _neg(value: float | None) -> float | None:
    return None if value is None else -value


def _vline(x: float, color: str, dash: str = "dot", xref: str = "x") -> dict:
    return {"type": "line", "xref": xref, "yref": "paper", "x0": x, "x1": x, "y0": 0, "y1": 1,
            "line": {"color": color, "dash": dash, "width": 1}}


# --------------------------------------------------------------------------------------
# the figures
# --------------------------------------------------------------------------------------

def folded_figure(payload: Mapping) -> dict:
    """Folded light curve zoomed on the transit: raw points, bins with errors, trapezoid model."""
    _require(payload, "zoom")
    eph = payload["ephemeris"]
    zoom = payload["zoom"]
    data = []
    if zoom.get("raw_x"):
        data.append(_raw(zoom["raw_x"], zoom["raw_ppm"]))
    data += [_bins(zoom["hours"], zoom["flux_ppm"], zoom.get("err_ppm"), "binned flux"),
             _scatter(zoom["hours"], zoom["model_ppm"], "transit model (trapezoid)",
                      mode="lines", color=_TRANSIT_COLOR)]
    half = 0.5 * (eph.get("duration_hours") or 0)
    layout = _layout(f"Folded on P = {eph['period_days']:.5g} d", "Hours from mid-transit",
                     "Relative flux (ppm)")
    model = _finite(zoom["model_ppm"])
    layout["yaxis"]["range"] = robust_range(zoom["flux_ppm"], errs=zoom.get("err_ppm"),
                                            include=(0.0, float(model.min()) if model.size else None))
    layout["shapes"] = [{"type": "rect", "xref": "x", "yref": "paper", "x0": -half, "x1": half,
                         "y0": 0, "y1": 1, "fillcolor": "rgba(214,39,40,0.08)", "line": {"width": 0}}]
    return {"data": data, "layout": layout}


def _orbit_x(phases) -> list:
    """Phases of any payload version on the -0.25..0.75 axis (version <= 2 stored -0.5..0.5)."""
    return [None if p is None else (p + 1.0 if p < ORBIT_RANGE[0] else p) for p in phases]


def phase_figure(payload: Mapping, metrics: Mapping | None = None) -> dict:
    """The whole orbit (phase -0.25..0.75): transit at 0, phase 0.5 and the strongest secondary marked."""
    _require(payload, "folded")
    metrics = _metrics(payload, metrics)
    eph, folded = payload["ephemeris"], payload["folded"]
    x, y, err = _orbit_x(folded["phase"]), list(folded["flux_ppm"]), folded.get("err_ppm")
    order = np.argsort([np.inf if v is None else v for v in x], kind="stable")
    x, y = [x[i] for i in order], [y[i] for i in order]
    err = [err[i] for i in order] if err else None
    data = []
    if folded.get("raw_x"):
        data.append(_raw(folded["raw_x"], folded["raw_ppm"]))
    data.append(_bins(x, y, err, "binned flux"))
    shapes, annotations = [_vline(0.0, _TRANSIT_COLOR), _vline(0.5, "#888888")], []
    best = _metric(metrics, SECONDARY_KEYS["phase"])
    if best is not None:
        best = best % 1.0
        best = best + 1.0 if best < ORBIT_RANGE[0] else best - 1.0 if best >= ORBIT_RANGE[1] else best
        shapes.append(_vline(best, _SECONDARY_COLOR, "dash"))
        annotations.append({"x": best, "y": 1.0, "xref": "x", "yref": "paper", "yanchor": "bottom",
                            "showarrow": False, "text": "strongest secondary",
                            "font": {"color": _SECONDARY_COLOR, "size": 11}})
    layout = _layout(f"Whole orbit, P = {eph['period_days']:.5g} d", "Phase (cycles; transit at 0)",
                     "Relative flux (ppm)", shapes=shapes, annotations=annotations)
    layout["xaxis"]["range"] = list(ORBIT_RANGE)
    layout["yaxis"]["range"] = robust_range(y, errs=err, include=(
        0.0, _neg(_metric(metrics, "depth_ppm")), _neg(_metric(metrics, SECONDARY_KEYS["depth"]))))
    return {"data": data, "layout": layout}


def odd_even_figure(payload: Mapping, metrics: Mapping | None = None) -> dict:
    """Odd and even transits side by side (same y scale) with their measured depths (from ``metrics``)."""
    _require(payload, "odd", "even")
    metrics = _metrics(payload, metrics)
    zoom = payload.get("zoom") or {}
    raw_cycle = zoom.get("raw_cycle")
    data, shapes, annotations, depths = [], [], [], []
    for i, key in enumerate(("odd", "even"), start=1):
        part = payload[key]
        axis = "" if i == 1 else str(i)
        color = _DATA_COLOR if key == "odd" else _EVEN_COLOR
        if raw_cycle:
            parity = 1 if key == "odd" else 0
            pick = [j for j, c in enumerate(raw_cycle) if c % 2 == parity]
            data.append(_raw([zoom["raw_x"][j] for j in pick], [zoom["raw_ppm"][j] for j in pick],
                             name=f"{key}: individual points", xaxis=f"x{axis}", yaxis=f"y{axis}",
                             showlegend=False))
        data.append(_bins(part["hours"], part["flux_ppm"], part.get("err_ppm"), f"{key} transits",
                          xaxis=f"x{axis}", yaxis=f"y{axis}", color=color))
        depth = _metric(metrics, f"{key}_depth_ppm")
        depths.append(_neg(depth))
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
    errs = list(payload["odd"].get("err_ppm") or []) + list(payload["even"].get("err_ppm") or [])
    layout.update({"xaxis": {"domain": [0, 0.48], "title": {"text": "Hours (odd transits)"}},
                   "xaxis2": {"domain": [0.52, 1], "anchor": "y2", "title": {"text": "Hours (even transits)"}},
                   "margin": dict(layout["margin"], t=70),
                   "yaxis": {"title": {"text": "Relative flux (ppm)"},
                             "range": robust_range(payload["odd"]["flux_ppm"], payload["even"]["flux_ppm"],
                                                   errs=errs or None, include=(0.0, *depths))},
                   "yaxis2": {"anchor": "x2", "matches": "y", "showticklabels": False},
                   "shapes": shapes, "annotations": annotations})
    return {"data": data, "layout": layout}


def _secondary_title(centre: float | None, metrics: Mapping, same_as_half: bool) -> tuple[str, float | None]:
    """Title naming the strongest secondary and, beside it, the phase-0.5 value (unless the two
    windows are the same, ``same_as_half``); and the depth drawn."""
    def values(depth_key: str, sigma_key: str) -> tuple[str, float | None]:
        depth, sigma = _metric(metrics, SECONDARY_KEYS[depth_key]), _metric(metrics, SECONDARY_KEYS[sigma_key])
        if depth is None:
            return "", None
        return f"{depth:.0f} ppm" + (f", {sigma:.1f} σ" if sigma is not None else ""), depth

    at_half, half_depth = values("half_depth", "half_sigma")
    if centre is None:  # a payload of version <= 2: the window is at phase 0.5
        return "Secondary eclipse window (phase 0.5)" + (f": {at_half}" if at_half else ""), half_depth
    best, depth = values("depth", "sigma")
    title = f"Strongest secondary, phase {centre:.3f}" + (f": {best}" if best else "")
    if at_half and not same_as_half:
        title += f"<br><span style='font-size:11px'>at phase 0.5: {at_half}</span>"
    return title, depth


def secondary_figure(payload: Mapping, metrics: Mapping | None = None) -> dict:
    """The window around the strongest secondary eclipse (the metrics' whole-phase search; phase
    0.5 in payloads before version 3), with the phase-0.5 value named beside it."""
    _require(payload, "secondary")
    metrics = _metrics(payload, metrics)
    part = payload["secondary"]
    centre = json_number(part.get("centre_phase"))
    data = []
    if part.get("raw_x"):
        data.append(_raw(part["raw_x"], part["raw_ppm"]))
    where = "phase 0.5" if centre is None else f"phase {centre:.3f}"
    data.append(_bins(part["hours"], part["flux_ppm"], part.get("err_ppm"), f"binned flux near {where}"))
    # the two windows coincide when the strongest secondary is within half a duration of 0.5
    eph = payload.get("ephemeris") or {}
    offset_hours = abs((centre if centre is not None else 0.5) - 0.5) * (eph.get("period_days") or 0) * 24
    title, depth = _secondary_title(centre, metrics, offset_hours < 0.5 * (eph.get("duration_hours") or 0))
    layout = _layout(title, f"Hours from {where}", "Relative flux (ppm)")
    layout["margin"] = dict(layout["margin"], t=60)
    layout["yaxis"]["range"] = robust_range(part["flux_ppm"], errs=part.get("err_ppm"), include=(0.0, _neg(depth)))
    if depth is not None:
        layout["shapes"] = [{"type": "line", "xref": "x domain", "yref": "y", "x0": 0, "x1": 1, "y0": -depth,
                             "y1": -depth, "line": {"color": _SECONDARY_COLOR, "dash": "dash"}}]
    return {"data": data, "layout": layout}


def per_transit_figure(payload: Mapping, metrics: Mapping | None = None) -> dict:
    """Each transit on its own: its depth with error bar against transit number (one bad event
    stands out from the line of the others) and a river diagram (one row per transit, colour =
    flux) of the same window."""
    _require(payload, "transits")
    metrics = _metrics(payload, metrics)
    tr = payload["transits"]
    if not tr.get("cycle"):
        raise ValueError("no transit has points in this light curve")
    k = int(tr.get("cycles_per_row") or 1)
    unit = "transit number" if k == 1 else f"transit number (runs of {k})"
    data = [_bins(tr["cycle"], tr["depth_ppm"], tr.get("err_ppm"), "depth of each transit",
                  customdata=tr.get("n_points"), hovertemplate="transit %{x}: %{y:.0f} ppm (%{customdata} points)")]
    depths = _finite(tr["depth_ppm"])
    typical = _metric(metrics, "depth_ppm")
    typical = typical if typical is not None else (float(np.median(depths)) if depths.size else None)
    shapes = []
    if typical is not None:
        shapes.append({"type": "line", "xref": "x domain", "yref": "y", "x0": 0, "x1": 1, "y0": typical,
                       "y1": typical, "line": {"color": _TRANSIT_COLOR, "dash": "dash", "width": 1}})
    river = tr.get("river") or {}
    if river.get("flux_ppm"):
        errs = _finite(tr.get("err_ppm"))
        # colour scale: the typical depth, or 3 per-transit errors for a shallow signal
        scale = max(abs(typical or 0.0), 3.0 * float(np.median(errs)) if errs.size else 0.0, 1.0)
        data.append({"type": "heatmap", "x": river["hours"], "y": river["first_cycle"], "z": river["flux_ppm"],
                     "xaxis": "x2", "yaxis": "y2", "colorscale": _RIVER_COLORS, "zmid": 0, "zmin": -1.2 * scale,
                     "zmax": 1.2 * scale, "name": "flux of each transit", "showscale": True,
                     "colorbar": {"title": {"text": "ppm"}, "thickness": 10, "len": 0.9},
                     "hovertemplate": "transit %{y}, %{x:.1f} h: %{z:.0f} ppm<extra></extra>"})
    layout = _layout("Transit by transit", unit, "Depth (ppm)", shapes=shapes)
    layout.update({"xaxis": {"domain": [0, 0.42], "title": {"text": unit}},
                   "yaxis": {"title": {"text": "Depth (ppm)"},
                             "range": robust_range(tr["depth_ppm"], errs=tr.get("err_ppm"), include=(0.0, typical))},
                   "xaxis2": {"domain": [0.52, 1], "anchor": "y2", "title": {"text": "Hours from mid-transit"}},
                   "yaxis2": {"anchor": "x2", "title": {"text": unit}, "autorange": "reversed"},
                   "showlegend": False})
    return {"data": data, "layout": layout}


def views_figure(payload: Mapping) -> dict:
    """Astronet global view (whole orbit) and local view (around the transit) side by side."""
    _require(payload, "global_view", "local_view")
    g, loc = payload["global_view"], payload["local_view"]
    gx = json_floats(np.linspace(-0.5, 0.5, len(g) + 1)[:-1] + 0.5 / len(g), digits=6)
    lx = json_floats(np.linspace(-2.0, 2.0, len(loc) + 1)[:-1] + 2.0 / len(loc), digits=6)
    data = [_scatter(gx, g, "global view"),
            _scatter(lx, loc, "local view", xaxis="x2", yaxis="y2", color=_EVEN_COLOR)]
    layout = _layout("Global and local views (normalised: median 0, transit minimum -1)",
                     "Phase (cycles)", "Normalised flux")
    layout.update({"xaxis": {"domain": [0, 0.6], "title": {"text": "Phase (cycles)"}},
                   "xaxis2": {"domain": [0.66, 1], "anchor": "y2",
                              "title": {"text": "Transit durations from mid-transit"}},
                   "yaxis2": {"anchor": "x2", "title": {"text": "Normalised flux"}}})
    return {"data": data, "layout": layout}


def timeseries_times(ts: Mapping) -> list[float]:
    """Times (days) of a payload's time-series bins: listed up to version 2, from version 3
    ``time_bins`` = [first centre, width, count] (the bins are evenly spaced)."""
    if ts.get("time") is not None:
        return ts["time"]
    first, width, n = ts["time_bins"]
    return json_floats(first + width * np.arange(int(n)), digits=10)


def timeseries_figure(payload: Mapping, metrics: Mapping | None = None) -> dict:
    """The full (binned, detrended) light curve with each predicted transit marked."""
    _require(payload, "timeseries")
    metrics = _metrics(payload, metrics)
    ts = payload["timeseries"]
    data = [_scatter(timeseries_times(ts), ts["flux_ppm"], "binned flux", marker={"size": 3, "color": _DATA_COLOR})]
    yrange = robust_range(ts["flux_ppm"], include=(0.0, _neg(_metric(metrics, "depth_ppm"))))
    transit_times = payload.get("transit_times") or []
    if transit_times:
        lo = yrange[0] if yrange else -1.0
        data.append({"type": "scatter", "mode": "markers", "name": "predicted transits",
                     "x": transit_times, "y": [lo] * len(transit_times), "cliponaxis": False,
                     "marker": {"symbol": "triangle-up", "size": 8, "color": _TRANSIT_COLOR}})
    layout = _layout("Detrended light curve", time_axis_title(ts.get("time_system")), "Relative flux (ppm)")
    layout["yaxis"]["range"] = yrange
    return {"data": data, "layout": layout}


def periodogram_figure(bls: Mapping) -> dict:
    """BLS periodogram (log period axis) with the best period marked.

    Accepts a :func:`classifier.plots.bls_payload` dict or a plot payload that contains one under ``bls``.
    """
    bls = bls.get("bls", bls)
    if bls is None or "periods_days" not in bls:
        raise ValueError("no BLS periodogram in this payload; run periodogram.bls_search() and bls_payload()")
    data = [_scatter(bls["periods_days"], bls["power"], "BLS power", mode="lines", color=_DATA_COLOR)]
    best = bls["best_period_days"]
    layout = _layout(f"Box least squares periodogram (best {best:.5g} d)", "Period (days)",
                     "BLS power (log-likelihood)")
    layout["xaxis"]["type"] = "log"
    layout["shapes"] = [_vline(best, _TRANSIT_COLOR)]
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
            _scatter(json_floats(x, digits=7), json_floats(y, digits=7), label, mode="lines+markers",
                     color=_DATA_COLOR),
            {"type": "bar", "name": "candidates per bin", "x": json_floats(x, digits=7),
             "y": json_floats(n, digits=7), "yaxis": "y2", "opacity": 0.3, "marker": {"color": "grey"}}]
    layout = _layout("Reliability diagram", "Predicted probability", "Observed frequency")
    layout["xaxis"]["range"] = [0, 1]
    layout["yaxis"]["range"] = [0, 1]
    layout["yaxis2"] = {"overlaying": "y", "side": "right", "title": {"text": "Candidates per bin"},
                        "showgrid": False}
    return {"data": data, "layout": layout}


def all_figures(payload: Mapping, metrics: Mapping | None = None) -> dict[str, dict]:
    """Every figure a payload supports, by name (views-only payloads give just ``views``).

    ``metrics``: the candidate's vetting metrics (``Candidate.features``) for the depths,
    phases and significances the figures annotate.
    """
    builders = {"timeseries": lambda p: timeseries_figure(p, metrics), "folded": folded_figure,
                "phase": lambda p: phase_figure(p, metrics),
                "odd_even": lambda p: odd_even_figure(p, metrics),
                "secondary": lambda p: secondary_figure(p, metrics),
                "per_transit": lambda p: per_transit_figure(p, metrics), "views": views_figure}
    figures = {}
    for name, build in builders.items():
        try:
            figures[name] = build(payload)
        except ValueError:
            continue
    if payload.get("bls"):
        figures["periodogram"] = periodogram_figure(payload)
    return figures
