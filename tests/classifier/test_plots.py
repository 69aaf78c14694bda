"""Payloads are small and JSON-serialisable; figures are valid plotly dicts with their traces."""
from __future__ import annotations

import json

import numpy as np
import pytest

from classifier import lightcurves as lcmod
from classifier import plots
from classifier.periodogram import bls_search
from classifier.products import lightcurve_products
from classifier.synthetic import simulate_candidate


def _count_numbers(obj) -> int:
    if isinstance(obj, list):
        return len(obj)
    if isinstance(obj, dict):
        return sum(_count_numbers(v) for v in obj.values())
    return 1


@pytest.fixture(scope="module")
def products():
    c = simulate_candidate("EB", np.random.default_rng(4))
    return lightcurve_products(c.time_bkjd, c.flux, c.flux_err, c.quality, period_days=c.period_days,
                               epoch=c.epoch_bkjd, duration_hours=c.duration_hours, time_system="BKJD")


@pytest.fixture(scope="module")
def payload(products):
    return products.payload


def _valid(fig):
    text = json.dumps(fig, allow_nan=False)  # NaN would break JSON: must be None
    go = pytest.importorskip("plotly.graph_objects")
    go.Figure(json.loads(text))  # plotly validates every property
    assert fig["layout"]["title"]["text"]
    return fig


def test_payload_is_small_json_and_holds_no_metrics(products, payload):
    text = json.dumps(payload, allow_nan=False, separators=(",", ":"))
    assert len(text) < 100_000  # stored per candidate: ~50-80 kB with raw samples and errors
    assert len(payload["global_view"]) == 201 and len(payload["local_view"]) == 61
    assert "metrics" not in payload and products.metrics["depth_ppm"] > 0  # stored once: Candidate.features
    assert payload["version"] == plots.PAYLOAD_VERSION == 3
    zoom, folded = payload["zoom"], payload["folded"]
    assert 0 < len(zoom["raw_x"]) <= plots.RAW_ZOOM_POINTS and len(zoom["raw_cycle"]) == len(zoom["raw_x"])
    assert 0 < len(folded["raw_x"]) <= plots.RAW_ORBIT_POINTS
    assert len(zoom["err_ppm"]) == len(zoom["flux_ppm"]) == plots.ZOOM_BINS
    assert min(folded["phase"]) > -0.25 and max(folded["phase"]) < 0.75  # both eclipses whole
    assert all(-0.25 <= x < 0.75 for x in folded["raw_x"])


def test_payload_takes_the_metrics_it_is_given(products):
    """plot_payload measures nothing: the transit model and the secondary window's centre come
    from the metrics passed in."""
    c = simulate_candidate("EB", np.random.default_rng(4))
    lc = lcmod.prepare(c.time_bkjd, c.flux, c.flux_err, c.quality, period_days=c.period_days,
                       epoch=c.epoch_bkjd, duration_hours=c.duration_hours)
    ephemeris = dict(period_days=c.period_days, epoch=c.epoch_bkjd, duration_hours=c.duration_hours)
    assert plots.plot_payload(lc, products.metrics, time_system="BKJD", **ephemeris) == products.payload
    no_fit = plots.plot_payload(lc, {}, **ephemeris)
    assert all(v is None for v in no_fit["zoom"]["model_ppm"])
    assert no_fit["secondary"]["centre_phase"] == 0.5  # no whole-phase search: phase 0.5
    shifted = plots.plot_payload(lc, {**products.metrics, "secondary_best_phase": 0.3}, **ephemeris)
    assert shifted["secondary"]["centre_phase"] == 0.3


def _trace_names(fig) -> set[str]:
    return {t["name"] for t in fig["data"]}


@pytest.mark.parametrize("builder, names", [
    (plots.folded_figure, {"individual points (sample)", "binned flux", "transit model (trapezoid)"}),
    (plots.phase_figure, {"individual points (sample)", "binned flux"}),
    (plots.odd_even_figure, {"odd: individual points", "even: individual points", "odd transits", "even transits"}),
    (plots.secondary_figure, {"individual points (sample)", "binned flux near phase {centre:.3f}"}),
    (plots.per_transit_figure, {"depth of each transit", "flux of each transit"}),
    (plots.views_figure, {"global view", "local view"}),
    (plots.timeseries_figure, {"binned flux", "predicted transits"}),
])
def test_figures_have_expected_traces_and_axis_units(payload, builder, names):
    fig = _valid(builder(payload))
    assert _trace_names(fig) == {n.format(centre=payload["secondary"]["centre_phase"]) for n in names}
    xtitle = fig["layout"]["xaxis"]["title"]["text"]
    assert any(unit in xtitle for unit in ("Hours", "Phase", "days", "Time", "transit number"))


def test_bins_have_error_bars_and_raw_points_sit_behind_them(payload):
    for fig in (plots.folded_figure(payload), plots.phase_figure(payload), plots.secondary_figure(payload)):
        raw, bins = fig["data"][0], fig["data"][1]
        assert raw["hoverinfo"] == "skip" and raw["marker"]["size"] < bins["marker"]["size"]  # faint, drawn first
        errors = [e for e in bins["error_y"]["array"] if e is not None]
        assert errors and all(e > 0 for e in errors)


def test_an_outlier_never_sets_the_y_scale(payload):
    clean = plots.folded_figure(payload)["layout"]["yaxis"]["range"]
    spiked = json.loads(json.dumps(payload))
    spiked["zoom"]["flux_ppm"][5] = 60_000.0  # one bin with a +6% cosmic ray
    spiked["zoom"]["raw_ppm"][10] = 60_000.0
    spiked_range = plots.folded_figure(spiked)["layout"]["yaxis"]["range"]
    assert spiked_range == pytest.approx(clean, rel=0.05) and spiked_range[1] < 60_000  # the spike is off scale
    assert plots.robust_range([0.0] * 20 + [1e6] + [0.0] * 20, include=(-100.0,))[1] < 100


def test_annotations_come_from_the_candidates_metrics(products, payload):
    features = {k: (None if np.isnan(v) else v) for k, v in products.metrics.items()}  # as stored
    odd_even = _valid(plots.odd_even_figure(payload, features))
    assert "sigma" in odd_even["layout"]["title"]["text"]
    assert {a["text"].split(":")[0] for a in odd_even["layout"]["annotations"]} == {"odd", "even"}
    assert "ppm" in _valid(plots.secondary_figure(payload, features))["layout"]["title"]["text"]
    assert plots.all_figures(payload, features)["odd_even"] == odd_even
    bare = plots.odd_even_figure(payload)  # no metrics: plain titles, no depth lines
    assert bare["layout"]["title"]["text"] == "Odd vs even transits" and not bare["layout"]["shapes"]
    old = dict(payload, metrics=features)  # version-1 payloads carried their metrics
    assert plots.odd_even_figure(old) == odd_even


def test_secondary_panel_is_centred_on_the_strongest_secondary_with_phase_half_beside_it(payload):
    metrics = {"secondary_best_phase": 0.607, "secondary_best_depth_ppm": 5400.0, "secondary_best_sigma": 89.0,
               "secondary_depth_ppm": 12.0, "secondary_sigma": 0.3}
    moved = dict(payload, secondary=dict(payload["secondary"], centre_phase=0.607))
    fig = _valid(plots.secondary_figure(moved, metrics))
    title = fig["layout"]["title"]["text"]
    assert "phase 0.607: 5400 ppm, 89.0 σ" in title and "at phase 0.5: 12 ppm, 0.3 σ" in title
    assert fig["layout"]["xaxis"]["title"]["text"] == "Hours from phase 0.607"
    assert fig["layout"]["shapes"][0]["y0"] == -5400.0
    orbit = _valid(plots.phase_figure(payload, metrics))
    assert orbit["layout"]["xaxis"]["range"] == [-0.25, 0.75]
    assert 0.607 in [s["x0"] for s in orbit["layout"]["shapes"]] and 0.5 in [s["x0"] for s in orbit["layout"]["shapes"]]


def _as_version2(payload: dict) -> dict:
    """The shape of a version-2 payload (before raw samples, errors, per-transit data): whole
    orbit over -0.5..0.5, secondary window at phase 0.5, times listed."""
    old = json.loads(json.dumps(payload))
    old["version"] = 2
    first, width, n = old["timeseries"].pop("time_bins")
    old["timeseries"]["time"] = [first + width * i for i in range(n)]
    phase = [p - 1.0 if p >= 0.5 else p for p in old["folded"]["phase"]]
    order = sorted(range(len(phase)), key=phase.__getitem__)
    old["folded"] = {"phase": [phase[i] for i in order], "flux_ppm": [old["folded"]["flux_ppm"][i] for i in order]}
    for key in ("zoom", "odd", "even", "secondary"):
        old[key] = {k: v for k, v in old[key].items() if k in ("hours", "flux_ppm", "model_ppm", "counts")}
    del old["transits"]
    return old


def test_old_payloads_still_draw(products, payload):
    features = {k: (None if np.isnan(v) else v) for k, v in products.metrics.items()}
    old = _as_version2(payload)
    figures = plots.all_figures(old, features)
    assert set(figures) == {"timeseries", "folded", "phase", "odd_even", "secondary", "views"}  # no per-transit
    for fig in figures.values():
        _valid(fig)
    assert figures["secondary"]["layout"]["title"]["text"].startswith("Secondary eclipse window (phase 0.5)")
    xs = [x for x in figures["phase"]["data"][-1]["x"] if x is not None]
    assert min(xs) >= -0.25 and max(xs) < 0.75 and xs == sorted(xs)  # old -0.5..0.5 bins wrapped
    new_times = plots.timeseries_figure(payload)["data"][0]["x"]
    assert figures["timeseries"]["data"][0]["x"][:3] == pytest.approx(new_times[:3])


def test_per_transit_panel_shows_one_bad_transit():
    """A transit with twice the depth of the others stands out of the per-transit depths."""
    c = simulate_candidate("PC", np.random.default_rng(11))
    lc = lcmod.prepare(c.time_bkjd, c.flux, c.flux_err, c.quality, period_days=c.period_days,
                       epoch=c.epoch_bkjd, duration_hours=c.duration_hours)
    cycle = np.floor((lc.time - c.epoch_bkjd) / c.period_days + 0.5)
    hours = ((lc.time - c.epoch_bkjd) / c.period_days - cycle) * c.period_days * 24
    bad = int(np.median(np.unique(cycle)))
    flux = lc.flux.copy()
    flux[(cycle == bad) & (np.abs(hours) < 0.4 * c.duration_hours)] -= 0.01  # one event 1% deeper
    tr = plots.plot_payload(lcmod.LightCurve(lc.time, flux, lc.flux_err), {}, period_days=c.period_days,
                            epoch=c.epoch_bkjd, duration_hours=c.duration_hours)["transits"]
    depths = dict(zip(tr["cycle"], tr["depth_ppm"], strict=True))
    others = np.median([d for k, d in depths.items() if k != bad])
    assert depths[bad] - others > 5000  # the bad event's extra ~10,000 ppm shows
    assert max(depths, key=depths.get) == bad
    assert len(tr["river"]["flux_ppm"]) == len(tr["river"]["first_cycle"]) <= plots.MAX_RIVER_ROWS
    fig = _valid(plots.per_transit_figure({"transits": tr}))
    assert fig["data"][1]["type"] == "heatmap"


def test_time_axis_names_the_time_system(payload):
    assert "2454833" in plots.timeseries_figure(payload)["layout"]["xaxis"]["title"]["text"]
    tess = dict(payload, timeseries=dict(payload["timeseries"], time_system="BTJD"))
    assert "2457000" in plots.timeseries_figure(tess)["layout"]["xaxis"]["title"]["text"]


def test_model_overlay_reaches_the_transit_depth(products, payload):
    model = [v for v in payload["zoom"]["model_ppm"] if v is not None]
    assert min(model) == pytest.approx(-products.metrics["trapezoid_depth_ppm"], rel=1e-6)


def test_views_only_payload_supports_the_views_figure():
    g = np.linspace(0, 1, 201)
    g[100] = -1
    p = plots.views_payload(g, np.r_[np.zeros(30), -1, np.zeros(30)], period_days=3.0)
    figs = plots.all_figures(p)
    assert set(figs) == {"views"}
    _valid(figs["views"])
    with pytest.raises(ValueError, match="no zoom"):
        plots.folded_figure(p)


def test_periodogram_and_reliability_figures():
    rng = np.random.default_rng(0)
    t = np.arange(0, 20, 0.0204)
    f = 1 + rng.normal(0, 3e-4, t.size)
    f[np.abs((t - 1.0 + 1.5) % 3.0 - 1.5) < 0.05] -= 3e-3
    bls = bls_search(t, f, min_period_days=1.0, max_period_days=6.0, n_periods=1000,
                           max_plot_points=300)
    fig = _valid(plots.periodogram_figure(plots.bls_payload(bls)))
    assert fig["layout"]["xaxis"]["type"] == "log" and len(fig["data"][0]["x"]) <= 300
    rel = _valid(plots.reliability_figure([0.1, 0.5, 0.9], [0.0, np.nan, 0.8], [10, 0, 5]))
    assert rel["data"][1]["y"][1] is None
    assert [t["type"] for t in rel["data"]] == ["scatter", "scatter", "bar"]
    with pytest.raises(ValueError, match="same length"):
        plots.reliability_figure([0.1], [0.1, 0.2], [1])
