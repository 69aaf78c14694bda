"""Injecting known signals into light curves (classifier.injection), on tiny arrays."""
import numpy as np
import pytest

from classifier.injection import (
    InjectionError,
    draw_injection,
    expected_snr,
    inject_signal,
    measure_box,
    point_noise,
)


def _flat(n=2000, noise=1e-3, seed=0, cadence=0.02):
    rng = np.random.default_rng(seed)
    time = 100.0 + cadence * np.arange(n)
    return time, 1.0 + noise * rng.normal(size=n), np.full(n, noise)


def test_point_noise_recovers_white_noise_under_a_trend():
    time, flux, _ = _flat(noise=2e-3)
    trended = flux + 0.01 * np.sin(2 * np.pi * (time - time[0]) / 10.0)
    assert point_noise(trended) == pytest.approx(2e-3, rel=0.1)


def test_box_injection_has_exact_depth_and_the_expected_snr():
    time, flux, err = _flat(n=1000, noise=1e-3)
    out = inject_signal(time, flux, err, true_class="PC", period_days=4.0, epoch=101.0, duration_hours=4.8,
                        depth=2e-3)
    t = out.truth
    inside = np.abs(((time - 101.0 + 2.0) % 4.0) - 2.0) < 0.1
    assert np.allclose(out.flux[inside], flux[inside] * (1 - 2e-3))
    assert np.array_equal(out.flux[~inside], flux[~inside])
    assert t.depth == pytest.approx(2e-3) and t.n_transits == 5 and t.n_in_transit == inside.sum()
    assert t.expected_snr == pytest.approx(2e-3 / t.noise * np.sqrt(inside.sum()))
    depth, snr = measure_box(out.time, out.flux, period_days=4.0, epoch=101.0, duration_hours=4.8)
    before, _ = measure_box(time, flux, period_days=4.0, epoch=101.0, duration_hours=4.8)
    assert depth - before == pytest.approx(2e-3, rel=0.01)  # the box measures the injected depth
    assert snr > 5
    assert flux is not out.flux and np.array_equal(err, out.flux_err)


def test_box_eb_gets_a_secondary_and_nan_stays_nan():
    time, flux, err = _flat(n=600)
    flux[5] = np.nan
    out = inject_signal(time, flux, err, true_class="EB", period_days=3.0, epoch=101.0, duration_hours=3.0,
                        depth=0.05, secondary_depth=0.01)
    assert out.truth.secondary_depth == pytest.approx(0.01) and np.isnan(out.flux[5])


@pytest.mark.parametrize("target", [8.0, 30.0])
@pytest.mark.parametrize("cls", ["PC", "EB"])
def test_drawn_signals_reach_the_snr_asked_for(cls, target):
    time, flux, err = _flat(n=3000, noise=5e-4, seed=3)
    out = draw_injection(np.random.default_rng(1), time, flux, err, true_class=cls, snr=target,
                         star={"mass_msun": 1.0, "radius_rsun": 1.0, "teff_k": 5800})
    truth = out.truth
    assert truth.true_class == cls and truth.model == "physical" and truth.n_transits >= 3
    assert truth.expected_snr == pytest.approx(target, rel=0.35)
    if cls == "EB":
        assert truth.secondary_depth > 0 and truth.parameters["b"] > 1 - truth.parameters["k"]
    else:
        assert truth.secondary_depth == 0 and truth.parameters["k"] < 0.2
    assert set(truth.as_dict()) >= {"true_class", "expected_snr", "parameters"}


def test_bad_requests_are_refused_clearly():
    time, flux, err = _flat(n=50)
    with pytest.raises(InjectionError, match="inject"):
        inject_signal(time, flux, err, true_class="V", period_days=1.0, epoch=100.0, duration_hours=1.0,
                      depth=0.01)
    with pytest.raises(InjectionError, match="depth"):
        inject_signal(time, flux, err, true_class="PC", period_days=1.0, epoch=100.0, duration_hours=1.0, depth=2)
    with pytest.raises(InjectionError, match="cannot show"):
        draw_injection(np.random.default_rng(0), time[:20], flux[:20], err[:20], true_class="PC", snr=10)
    assert expected_snr(0.01, noise=0.0, n_in_transit=5) == 0.0
