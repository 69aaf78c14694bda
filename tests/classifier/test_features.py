"""Each vetting metric on a known injected signal (noisy box/trapezoid on tiny arrays)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from classifier import features
from classifier.features import (
    FEATURE_NAMES,
    FEATURE_UNITS,
    METRICS,
    StarParams,
    expected_duration_hours,
    vetting_metrics,
)
from classifier.lightcurves import LightCurveError

P, E, DUR_H = 4.0, 1.0, 4.0
SUN = StarParams(teff_k=5772, logg_cgs=4.438, radius_rsun=1.0, mass_msun=1.0, magnitude=12)


def _lc(depth_odd=2e-3, depth_even=None, sec_depth=0.0, sec_phase=0.5, flat=1.0,
        noise=2e-4, n_days=80.0, seed=0):
    """Trapezoid transits (flat fraction ``flat``) plus a box secondary, white noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(0, n_days, 0.0204)
    cycle = np.floor((t - E) / P + 0.5)
    x = np.abs((t - E) - cycle * P) * 24  # hours from mid-transit
    half, ingress = DUR_H / 2, max(DUR_H / 2 * (1 - flat), 1e-9)
    shape = np.clip((half - x) / ingress, 0, 1)
    depth = np.where(cycle % 2 == 1, depth_odd, depth_even if depth_even is not None else depth_odd)
    f = 1 - depth * shape + rng.normal(0, noise, t.size)
    xs = np.abs(((t - E) / P - sec_phase + 0.5) % 1 - 0.5) * P * 24
    f[xs < half] -= sec_depth
    return t, f


def _m(t, f, **kw):
    return vetting_metrics(t, f, None, period_days=P, epoch=E, duration_hours=DUR_H, **kw)


def test_keys_are_the_feature_names_and_all_floats():
    t, f = _lc()
    m = _m(t, f, star=SUN, catalog={"depth_ppm": 1900.0, "snr": 50.0})
    assert tuple(m) == FEATURE_NAMES
    assert all(isinstance(v, float) for v in m.values())
    assert m["catalog_depth_ppm"] == 1900.0 and m["period_days"] == P and m["teff_k"] == 5772


def test_depth_snr_and_transit_count():
    t, f = _lc(depth_odd=2e-3)
    m = _m(t, f)
    assert m["depth_ppm"] == pytest.approx(2000, abs=4 * m["depth_err_ppm"])
    assert m["noise_ppm"] == pytest.approx(200, rel=0.1)
    n_in = m["n_points_in_transit"]
    assert m["snr"] == pytest.approx(2000 / (200 / math.sqrt(n_in)), rel=0.15)
    assert m["n_transits"] == 20  # 80 days / 4 days, first transit at day 1
    assert m["radius_ratio"] == pytest.approx(math.sqrt(2e-3), rel=0.05)


def test_odd_even_difference_detected_and_equal_depths_not():
    t, f = _lc(depth_odd=3e-3, depth_even=1.5e-3)
    m = _m(t, f)
    assert m["odd_even_diff_ppm"] == pytest.approx(1500, rel=0.15)
    assert m["odd_even_sigma"] > 10
    t, f = _lc(depth_odd=2e-3)
    assert _m(t, f)["odd_even_sigma"] < 3


def test_secondary_at_half_phase_and_at_an_eccentric_phase():
    t, f = _lc(sec_depth=8e-4)
    m = _m(t, f)
    assert m["secondary_depth_ppm"] == pytest.approx(800, rel=0.15)
    assert m["secondary_sigma"] > 10
    assert m["secondary_best_phase"] == pytest.approx(0.5, abs=0.02)
    t, f = _lc(sec_depth=8e-4, sec_phase=0.35)
    m = _m(t, f)
    assert abs(m["secondary_sigma"]) < 4
    assert m["secondary_best_phase"] == pytest.approx(0.35, abs=0.02)
    assert m["secondary_best_depth_ppm"] == pytest.approx(800, rel=0.2)
    t, f = _lc()
    assert _m(t, f)["secondary_best_sigma"] < 5


def test_trapezoid_shape_separates_u_and_v():
    t, f = _lc(depth_odd=3e-3, flat=0.8)
    u = _m(t, f)
    t, f = _lc(depth_odd=3e-3, flat=0.0)
    v = _m(t, f)
    assert u["shape_flat_fraction"] == pytest.approx(0.8, abs=0.1)
    assert v["shape_flat_fraction"] < 0.15
    assert u["trapezoid_duration_hours"] == pytest.approx(DUR_H, rel=0.1)
    assert u["trapezoid_depth_ppm"] == pytest.approx(3000, rel=0.1)


def test_expected_duration_and_ratio_for_the_sun():
    # Earth seen transiting the Sun centrally: about 13 hours
    assert expected_duration_hours(365.25, SUN) == pytest.approx(13.0, rel=0.03)
    t, f = _lc()
    m = _m(t, f, star=SUN)
    assert m["duration_ratio"] == pytest.approx(DUR_H / expected_duration_hours(P, SUN))
    # mass from logg and radius when mass is unknown
    no_mass = StarParams(logg_cgs=4.438, radius_rsun=1.0)
    assert expected_duration_hours(P, no_mass) == pytest.approx(expected_duration_hours(P, SUN))
    assert math.isnan(_m(t, f)["duration_ratio"])


def test_weak_data_gives_nan_not_errors():
    t, f = _lc()
    m = _m(t[:2], f[:2])
    assert math.isnan(m["depth_ppm"]) and m["n_transits"] == 0
    only_transit = np.abs(((t - E) / P + 0.5) % 1 - 0.5) * P * 24 < 1
    m = _m(t[only_transit], f[only_transit])
    assert math.isnan(m["depth_ppm"])
    m = _m(t[: int(3.5 / 0.0204)], f[: int(3.5 / 0.0204)])  # one transit: no odd one
    assert math.isnan(m["odd_even_sigma"]) and m["n_transits"] == 1
    m = _m(np.full(10, np.nan), np.full(10, np.nan))
    assert math.isnan(m["snr"])


def test_invalid_ephemeris_raises():
    t, f = _lc()
    with pytest.raises(LightCurveError, match="period"):
        vetting_metrics(t, f, period_days=-1.0, epoch=E, duration_hours=DUR_H)
    with pytest.raises(LightCurveError, match="duration"):
        vetting_metrics(t, f, period_days=P, epoch=E, duration_hours=0.0)


def test_registry_every_metric_has_a_unit_a_description_and_its_name_once():
    assert tuple(FEATURE_UNITS) == FEATURE_NAMES and len(set(FEATURE_NAMES)) == len(FEATURE_NAMES)
    assert all(m.description for m in METRICS)
    assert FEATURE_UNITS["depth_ppm"] == "ppm" and FEATURE_UNITS["trapezoid_duration_hours"] == "hours"
    with pytest.raises(ValueError, match="twice"):
        features.metric("depth_ppm", "ppm")(lambda fold: 0.0)
    with pytest.raises(ValueError, match="needs"):
        features.metric("x", "", needs="views")


def test_a_registered_metric_is_computed_with_the_others(monkeypatch):
    """Adding a metric is writing its function: vetting_metrics picks it up from the registry."""
    registry = list(METRICS)
    monkeypatch.setattr(features, "METRICS", registry)

    @features.metric("core_points", "count", empty=0.0)
    def core_points(fold):
        """Points in the central half of the transit."""
        return float(fold.in_core.sum())

    t, f = _lc()
    m = _m(t, f)
    assert 0 < m["core_points"] < m["n_points_in_transit"]
    assert _m(t[:2], f[:2])["core_points"] == 0.0  # no usable light curve: its empty value
    assert features.METRICS is registry and registry[-1].name == "core_points"
