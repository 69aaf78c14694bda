"""The V-shape metric (Robovetter DR25 ``shape_metric`` = b + Rp/R* of a limb-darkened fit):
recovered on simulated transits, and on the real Kepler files no confirmed planet fails it while
the stellar eclipses do. (Before: b from a trapezoid's flat fraction put every small planet near
0.95 and the EBs K00742.01 / K00754.01 at 0.99, so the test told nothing apart.)"""
from __future__ import annotations

import numpy as np
import pytest

from classifier.flags import V_SHAPE_MAX, failed_flags
from classifier.products import measure
from classifier.simphysics import eclipse_flux
from classifier.transitfit import fit_transit

CADENCE = 29.4 / 60 / 24  # Kepler long cadence [days]


def _folded(k, b, a_r, *, period=5.0, noise=1e-4, seed=1):
    rng = np.random.default_rng(seed)
    t = np.arange(0.0, 90.0, CADENCE)
    flux, _ = eclipse_flux(t, CADENCE, t0=1.0, period=period, k=k, a_r=a_r, b=b, u=(0.4, 0.26))
    flux = flux + rng.normal(0.0, noise, t.size)
    x = (t - 1.0 + 0.5 * period) % period - 0.5 * period
    return x, flux


def _fit(x, flux, duration_days, period=5.0, noise=1e-4):
    return fit_transit(x, flux, baseline=1.0, sigma=noise, period_days=period, duration_days=duration_days,
                       cadence_days=CADENCE, teff_k=5800.0)


def test_a_small_central_planet_is_far_from_v_shaped():
    # Rp/R* = 0.03, b = 0.2, a/R* = 12: a 3.0 h transit whose ingress (5 min) is shorter than a cadence
    x, flux = _folded(0.03, 0.2, 12.0)
    fit = _fit(x, flux, 3.0 / 24)
    assert fit.ror == pytest.approx(0.03, rel=0.15)
    assert fit.impact + fit.ror < 0.8


def test_a_grazing_eclipse_is_v_shaped():
    # a companion of 0.3 stellar radii crossing the limb (b = 1.1): V-shaped, 1.5% deep
    x, flux = _folded(0.3, 1.1, 8.0)
    fit = _fit(x, flux, 2.0 / 24)
    assert fit.impact + fit.ror > V_SHAPE_MAX
    assert fit.impact + fit.ror == pytest.approx(1.4, abs=0.15)


def test_no_dip_or_too_few_points_is_not_computable():
    x = np.linspace(-0.5, 0.5, 200)
    assert np.isnan(_fit(x, np.ones_like(x) + 1e-3, 0.1).ror)
    assert np.isnan(_fit(x[:5], np.ones(5), 0.1).impact)


@pytest.fixture(scope="module")
def measured(shared_data):
    from tests.classifier.kepler_files import koi_cases

    out = []
    for case in koi_cases(shared_data):
        _, m = measure(case.time, case.flux, case.flux_err, case.quality, star=case.star, mission="kepler",
                       siblings=case.siblings, **case.ephemeris)
        out.append((case, m))
    return out


def test_no_confirmed_kepler_planet_fails_v_shape(measured):
    confirmed = [(c, m) for c, m in measured if c.disposition == "CONFIRMED"]
    assert len(confirmed) >= 10
    for case, m in confirmed:
        assert "v_shape" not in failed_flags(m), (case.koi, case.file, m["impact_plus_radius_ratio"])


@pytest.mark.parametrize("koi", ["K00742.01", "K00754.01"])
def test_kepler_stellar_eclipses_fail_v_shape(measured, koi):
    values = [m["impact_plus_radius_ratio"] for c, m in measured if c.koi == koi]
    assert values and all(v > V_SHAPE_MAX for v in values), values
