"""Vetting metrics on simulated cases: outliers, correlated noise, eccentric secondaries,
siblings, quality masks and BLS durations (issue 18)."""
from __future__ import annotations

import numpy as np
import pytest

from classifier import lightcurves as lcmod
from classifier.features import vetting_metrics
from classifier.flags import failed_flags
from classifier.periodogram import bls_search, durations_for_periods
from classifier.products import measure
from classifier.simphysics import inject_box_eclipses, red_noise
from classifier.synthetic import simulate_candidate

P, E, DUR_H = 4.0, 1.0, 4.0


def _white(seed=0, noise=2e-4, n_days=80.0):
    rng = np.random.default_rng(seed)
    t = np.arange(0, n_days, 0.0204)
    return t, 1 + rng.normal(0, noise, t.size)


def _m(t, f, **kw):
    return vetting_metrics(t, f, None, period_days=P, epoch=E, duration_hours=DUR_H, **kw)


def test_one_in_transit_cosmic_ray_moves_depth_by_at_most_its_share():
    t, f = _white()
    f = inject_box_eclipses(t, f, period_days=P, epoch=E, duration_hours=DUR_H, depth=1e-3)
    before = _m(t, f)
    x = (t - E + 0.5 * P) % P - 0.5 * P
    spiked = f.copy()
    spiked[np.flatnonzero(np.abs(x) < 0.02)[3]] += 0.06  # +6% in a transit core
    after = _m(t, spiked)
    one_point = 2e-4 * 1e6 * 3 / before["n_points_in_transit"] ** 0.5 / before["n_points_in_transit"] ** 0.5
    assert abs(after["depth_ppm"] - before["depth_ppm"]) < max(one_point, 0.02 * before["depth_ppm"])
    assert after["snr"] == pytest.approx(before["snr"], rel=0.05)
    assert after["n_points_clipped"] >= 1
    # the cleaning step clips it too (inside the protected window: upward points only)
    lc = lcmod.prepare(t, spiked, period_days=P, epoch=E, duration_hours=DUR_H)
    assert lc.flux.max() < 1.01


def test_a_v_shaped_eclipse_is_not_clipped_as_outliers():
    rng = np.random.default_rng(3)
    t = np.arange(0, 80, 0.0204)
    x = np.abs((t - E + 0.5 * P) % P - 0.5 * P) * 24
    f = 1 - 0.05 * np.clip(1 - x / (DUR_H / 2), 0, 1) + rng.normal(0, 2e-4, t.size)
    m = _m(t, f)
    assert m["n_points_clipped"] <= 2
    assert m["depth_ppm"] == pytest.approx(0.05 * 0.75e6, rel=0.05)  # mean of the central half of a V


def test_odd_even_significance_includes_correlated_noise():
    """Equal depths in strong red noise: white-noise errors call ~half of them odd/even
    differences above 3 sigma; with the red term few are."""
    high = 0
    for seed in range(20):
        rng = np.random.default_rng(seed)
        t = np.arange(0, 80, 0.0204)
        f = 1 + rng.normal(0, 1e-4, t.size) + red_noise(rng, t.size, 4e-4, 30)
        f = inject_box_eclipses(t, f, period_days=P, epoch=E, duration_hours=DUR_H, depth=2e-3)
        m = _m(t, f)
        high += m["odd_even_sigma"] > 3
        white_err = m["noise_ppm"] / np.sqrt(m["n_points_in_transit"] / 4)  # half the points, core half
        assert m["odd_depth_err_ppm"] > 1.5 * white_err
    assert high <= 2


def test_odd_even_difference_still_detected_with_the_red_term():
    t, f = _white(seed=2)
    f = inject_box_eclipses(t, f, period_days=P, epoch=E, duration_hours=DUR_H, depth=1.5e-3, odd_depth=3e-3)
    m = _m(t, f)
    assert m["odd_even_sigma"] > 10
    assert "odd_even" in failed_flags(m)


@pytest.mark.parametrize("sec_phase", [0.5, 0.3, 0.65])
def test_secondary_found_anywhere_with_phase_depth_and_significance(sec_phase):
    t, f = _white(seed=4)
    f = inject_box_eclipses(t, f, period_days=P, epoch=E, duration_hours=DUR_H, depth=5e-3,
                            secondary_depth=1e-3, secondary_phase=sec_phase)
    m = _m(t, f)
    assert m["secondary_best_phase"] == pytest.approx(sec_phase, abs=0.02)
    assert m["secondary_best_depth_ppm"] == pytest.approx(1000, rel=0.1)
    assert m["secondary_best_sigma"] > 15
    assert m["secondary_best_depth_ppm"] / m["secondary_best_depth_err_ppm"] == pytest.approx(m["secondary_best_sigma"])
    assert "secondary" in failed_flags(m)
    if sec_phase != 0.5:
        assert abs(m["secondary_sigma"]) < 4  # the phase-0.5 box, kept beside it


def test_no_secondary_next_to_the_transit_and_noise_passes():
    """A dip starting one duration after egress is no secondary (the box may not start in the
    transit's wings) and pure noise passes the look-elsewhere-aware test."""
    t, f = _white(seed=5)
    f = inject_box_eclipses(t, f, period_days=P, epoch=E, duration_hours=DUR_H, depth=5e-3)
    m = _m(t, f)
    width = DUR_H / 24 / P
    assert min(m["secondary_best_phase"], 1 - m["secondary_best_phase"]) >= 2 * width - 1e-9
    assert "secondary" not in failed_flags(m) and "odd_even" not in failed_flags(m)
    assert m["red_noise_factor"] >= 1.0


def test_simulated_eccentric_eclipsing_binaries_show_their_secondary():
    found = 0
    for seed in range(6):
        c = simulate_candidate("EB", np.random.default_rng(seed), eb_eccentricity=0.3)
        _, m = measure(c.time_bkjd, c.flux, c.flux_err, c.quality, period_days=c.period_days, epoch=c.epoch_bkjd,
                       duration_hours=c.duration_hours)
        truth = c.truth["secondary_phase"]
        d = abs((m["secondary_best_phase"] - truth + 0.5) % 1 - 0.5)
        sec_depth = c.truth["light_ratio"] / (1 + c.truth["light_ratio"])
        if sec_depth > 5 * m["noise_ppm"] * 1e-6 and d < c.duration_hours / 24 / c.period_days:
            found += 1
            assert "secondary" in failed_flags(m) or "odd_even" in failed_flags(m)
    assert found >= 3


def test_sibling_transits_are_masked_before_any_metric():
    t, f = _white(seed=6)
    f = inject_box_eclipses(t, f, period_days=P, epoch=E, duration_hours=DUR_H, depth=2e-3)
    # twice the period: every other orbit, the sibling transits at phase 0.4
    sibling = {"period_days": 8.0, "epoch": 2.6, "duration_hours": 3.0}
    f = inject_box_eclipses(t, f, depth=4e-3, **sibling)
    kw = dict(period_days=P, epoch=E, duration_hours=DUR_H)
    _, unmasked = measure(t, f, **kw)
    lc, masked = measure(t, f, siblings=[sibling], **kw)
    assert unmasked["secondary_best_sigma"] > 10
    assert masked["secondary_best_sigma"] < 5
    assert not lcmod.siblings_mask(lc.time, [sibling]).any()


def test_mission_quality_masks_follow_lightkurve():
    from lightkurve.utils import KeplerQualityFlags, TessQualityFlags

    assert lcmod.quality_bitmask("kepler") == KeplerQualityFlags.DEFAULT_BITMASK
    tess = lcmod.quality_bitmask("TESS")
    assert tess & TessQualityFlags.DEFAULT_BITMASK == TessQualityFlags.DEFAULT_BITMASK
    for bit in (TessQualityFlags.ManualExclude, TessQualityFlags.ImpulsiveOutlier, TessQualityFlags.Straylight2):
        assert tess & bit
    with pytest.raises(ValueError, match="mission"):
        lcmod.quality_bitmask("hubble")
    t, f = _white()
    q = np.zeros(t.size, np.int32)
    q[::50] = 512  # TESS impulsive outlier; Kepler's bit 512 is reserved and unused
    f[::50] -= 0.01
    kw = dict(period_days=P, epoch=E, duration_hours=DUR_H)
    assert len(measure(t, f, None, q, mission="tess", **kw)[0]) < len(measure(t, f, None, q, mission="kepler", **kw)[0])


def test_bls_durations_scale_with_the_period():
    rng = np.random.default_rng(1)
    t = np.arange(0, 60, 0.0204)
    period, epoch, dur_h = 7.3, 2.1, 4.6
    f = inject_box_eclipses(t, 1 + rng.normal(0, 5e-4, t.size), period_days=period, epoch=epoch,
                            duration_hours=dur_h, depth=1e-3)
    res = bls_search(t, f, n_periods=4000)
    n_in = (np.abs((t - epoch + 0.5 * period) % period - 0.5 * period) < dur_h / 48).sum()
    ideal = 1e-3 / (5e-4 / np.sqrt(n_in))
    assert res.period_days == pytest.approx(period, rel=1e-3)
    assert res.duration_hours == pytest.approx(dur_h, rel=0.3)
    assert res.snr > 0.85 * ideal
    assert durations_for_periods(0.5, 0.7).max() * 24 < 3.0 < durations_for_periods(7.0, 10.0).max() * 24
