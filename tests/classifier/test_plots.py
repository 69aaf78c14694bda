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
    json.dumps(payload, allow_nan=False)
    assert _count_numbers(payload) < 5000
    assert len(payload["global_view"]) == 201 and len(payload["local_view"]) == 61
    assert "metrics" not in payload and products.metrics["depth_ppm"] > 0  # stored once: Candidate.features
    assert payload["version"] == plots.PAYLOAD_VERSION


def test_payload_takes_the_metrics_it_is_given(products):
    """plot_payload measures nothing: the transit model comes from the metrics passed in."""
    c = simulate_candidate("EB", np.random.default_rng(4))
    lc = lcmod.prepare(c.time_bkjd, c.flux, c.flux_err, c.quality, period_days=c.period_days,
                       epoch=c.epoch_bkjd, duration_hours=c.duration_hours)
    ephemeris = dict(period_days=c.period_days, epoch=c.epoch_bkjd, duration_hours=c.duration_hours)
    assert plots.plot_payload(lc, products.metrics, time_system="BKJD", **ephemeris) == products.payload
    no_fit = plots.plot_payload(lc, {}, **ephemeris)
    assert all(v is None for v in no_fit["zoom"]["model_ppm"])


@pytest.mark.parametrize("builder, names", [
    (plots.folded_figure, {"binned flux", "transit model (trapezoid)"}),
    (plots.phase_figure, {"binned flux"}),
    (plots.odd_even_figure, {"odd transits", "even transits"}),
    (plots.secondary_figure, {"binned flux near phase 0.5"}),
    (plots.views_figure, {"global view", "local view"}),
    (plots.timeseries_figure, {"binned flux", "predicted transits"}),
])
def test_figures_have_expected_traces_and_axis_units(payload, builder, names):
    fig = _valid(builder(payload))
    assert {t["name"] for t in fig["data"]} == names
    xtitle = fig["layout"]["xaxis"]["title"]["text"]
    assert any(unit in xtitle for unit in ("Hours", "Phase", "days", "Time"))


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
