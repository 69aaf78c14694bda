"""Clean, detrend, fold, bin, views and BLS on tiny arrays, plus one real-file check."""
from __future__ import annotations

import numpy as np
import pytest

from classifier import lightcurves as lcmod
from classifier.lightcurves import LightCurveError
from classifier.periodogram import bls_search


def _box_lc(n_days=30.0, period=3.0, epoch=1.2, dur_h=3.0, depth=1e-3, noise=1e-4, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(0, n_days, 0.0204)
    phase_days = (t - epoch + 0.5 * period) % period - 0.5 * period
    f = 1 + rng.normal(0, noise, t.size)
    f[np.abs(phase_days) < dur_h / 48] -= depth
    return t, f


def test_phase_fold_puts_transits_at_zero_in_half_open_range():
    t = np.array([1.0, 2.5, 4.0, 5.5, 7.0 - 1e-9])
    ph = lcmod.phase_fold(t, period_days=3.0, epoch=1.0)
    assert np.all(ph >= -0.5) and np.all(ph < 0.5)
    np.testing.assert_allclose(ph[[0, 2]], 0.0, atol=1e-12)
    np.testing.assert_allclose(ph[1], -0.5)


def test_bin_curve_mean_median_counts_and_empty_bins():
    x = np.array([0.1, 0.2, 0.3, 2.5, 2.6, 2.7, 2.8])
    y = np.array([1.0, 2.0, 9.0, 4.0, 5.0, 6.0, 100.0])
    c, med, n = lcmod.bin_curve(x, y, n_bins=3, x_range=(0, 3))
    np.testing.assert_allclose(c, [0.5, 1.5, 2.5])
    np.testing.assert_array_equal(n, [3, 0, 4])
    assert med[0] == 2.0 and np.isnan(med[1]) and med[2] == 5.5
    _, mean, _ = lcmod.bin_curve(x, y, n_bins=3, x_range=(0, 3), statistic="mean")
    assert mean[0] == 4.0 and mean[2] == pytest.approx(28.75)


def test_interpolate_and_normalise_view():
    filled = lcmod.interpolate_empty(np.array([np.nan, 1.0, np.nan, 3.0, np.nan]))
    np.testing.assert_allclose(filled, [1, 1, 2, 3, 3])
    v = lcmod.normalise_view(np.array([1.0, 1.0, 0.99, 0.995, 1.0, 1.002]))
    assert np.median(v) == pytest.approx(0) and v.min() == pytest.approx(-1)
    with pytest.raises(LightCurveError, match="flat"):
        lcmod.normalise_view(np.ones(5))


def test_views_follow_astronet_convention():
    t, f = _box_lc()
    g = lcmod.global_view(t, f, period_days=3.0, epoch=1.2)
    loc = lcmod.local_view(t, f, period_days=3.0, epoch=1.2, duration_hours=3.0)
    assert g.shape == (201,) and loc.shape == (61,)
    for v in (g, loc):
        assert np.median(v) == pytest.approx(0, abs=1e-12)
        assert v.min() == pytest.approx(-1)
        assert np.all(np.isfinite(v))
    # 3 h of a 3-day orbit spans ~8 of 201 bins, centred on bin 100
    assert np.all(g[97:104] < -0.5) and np.all(np.abs(g[:80]) < 0.3)
    assert np.all(loc[27:34] < -0.5) and np.all(np.abs(loc[:10]) < 0.3)


def test_real_views_file_has_the_same_convention(shared_data):
    views = np.load(shared_data / "tess" / "astronet_triage" / "views.npz")
    g = views["global_view"][:200]
    np.testing.assert_allclose(np.median(g, axis=1), 0, atol=1e-5)
    np.testing.assert_allclose(g.min(axis=1), -1, atol=1e-5)
    assert g.shape[1] == lcmod.GLOBAL_VIEW_BINS
    assert views["local_view"].shape[1] == lcmod.LOCAL_VIEW_BINS


def test_clean_drops_flags_nans_outliers_but_never_in_transit_points():
    t, f = _box_lc(depth=5e-3)
    q = np.zeros(t.size, np.int32)
    q[10] = 32  # desaturation: dropped by the default bitmask
    f[20] = np.nan
    f[30] += 0.01  # cosmic ray
    mask = lcmod.transit_mask(t, period_days=3.0, epoch=1.2, duration_hours=3.0)
    deep = np.flatnonzero(mask)[3]
    f[deep] -= 0.02  # an extreme in-transit point must survive
    lc = lcmod.clean(t, f, None, q, protect=mask)
    assert t[10] not in lc.time and t[20] not in lc.time and t[30] not in lc.time
    assert t[deep] in lc.time
    assert np.all(np.isfinite(lc.flux_err)) and np.all(lc.flux_err > 0)


@pytest.mark.parametrize("time, flux, message", [
    ([], [], "empty"),
    (np.arange(20.0), np.full(20, np.nan), "no finite flux"),
    ([1.0], [1.0], "only 1 usable"),
    (np.arange(50.0), np.ones(50), "constant"),
    (np.arange(5.0), np.ones(4), "same length"),
])
def test_bad_light_curves_raise_clear_errors(time, flux, message):
    with pytest.raises(LightCurveError, match=message):
        lcmod.clean(time, flux)
    assert issubclass(LightCurveError, ValueError)


def test_bad_ephemeris_raises():
    with pytest.raises(LightCurveError, match="period"):
        lcmod.phase_fold(np.arange(3.0), period_days=0.0, epoch=0.0)


def test_detrend_removes_trend_and_keeps_masked_transit():
    t, f = _box_lc(depth=2e-3)
    trend = 1 + 0.01 * np.sin(2 * np.pi * t / 15)
    mask = lcmod.transit_mask(t, period_days=3.0, epoch=1.2, duration_hours=3.0)
    flat, err = lcmod.detrend(t, f * trend, window_days=1.0, mask=mask)
    assert np.std(flat[~mask]) < 2e-4
    core = lcmod.transit_mask(t, period_days=3.0, epoch=1.2, duration_hours=1.5)
    depth = np.median(flat[~mask]) - np.mean(flat[core])
    assert depth == pytest.approx(2e-3, rel=0.1)


def test_bls_recovers_injected_period():
    t, f = _box_lc(n_days=27.0, period=3.7, epoch=2.0, depth=2e-3, noise=5e-4)
    res = bls_search(t, f, min_period_days=1.0, max_period_days=10.0, n_periods=3000)
    assert res.period_days == pytest.approx(3.7, rel=2e-3)
    assert res.duration_hours == pytest.approx(3.0, abs=1.1)
    assert res.depth_ppm == pytest.approx(2000, rel=0.3)
    assert res.snr > 10
    assert res.periods_days.shape == res.power.shape and res.power.size <= 2000


def _read_kepler_file(shared_data, name: str):
    """lightkurve and its reading of one real Kepler file of the shared data (else skip)."""
    lk = pytest.importorskip("lightkurve")
    path = shared_data / "kepler" / "lightcurves" / name
    if not path.exists():
        pytest.skip(f"{path.name} not in the shared data")
    return lk, lk.read(path)


def test_fold_and_bin_agree_with_lightkurve_on_real_kepler_file(shared_data):
    lk, raw = _read_kepler_file(shared_data, "exohunt_example_10854555.fits")
    t = np.asarray(raw.time.value, float)
    f = np.asarray(raw.flux.value, float)
    good = np.isfinite(t) & np.isfinite(f)
    t, f = t[good], f[good] / np.nanmedian(f[good])
    period, epoch = 2.52559, 170.1  # K00755.01; epoch only sets the phase origin
    ref = lk.LightCurve(time=t, flux=f).fold(period=period, epoch_time=epoch,
                                             normalize_phase=True).bin(bins=201)
    # lightkurve starts its bins at the first folded point, not at -0.5: use its edges
    centres = np.asarray(ref.time.value, float)
    half = 0.5 * np.mean(np.diff(centres))
    _, ours, _ = lcmod.bin_curve(lcmod.phase_fold(t, period_days=period, epoch=epoch), f,
                                 n_bins=201, x_range=(centres[0] - half, centres[-1] + half + 1e-12),
                                 statistic="mean")
    theirs = np.asarray(ref.flux.value, float)
    ok = np.isfinite(ours) & np.isfinite(theirs)
    assert ok.sum() > 190
    # point-to-point scatter of this star is ~1e-4; the bins agree far below it
    assert np.max(np.abs(ours[ok] - theirs[ok])) < 5e-5
    assert np.corrcoef(ours[ok], theirs[ok])[0, 1] > 0.9999


def _lightkurve_trend(lk, t, f, window_days, mask):
    """The trend of lightkurve's own ``flatten`` with the window and gap rules of ``detrend``."""
    window = max(int(window_days / float(np.median(np.diff(t)))) // 2 * 2 + 1, 5)
    _, trend = lk.LightCurve(time=t, flux=f).flatten(window_length=window, polyorder=2, mask=mask,
                                                      break_tolerance=max(5, window // 2),
                                                      return_trend=True)
    return np.asarray(trend.flux.value, float)


def test_detrend_reproduces_lightkurve_flatten_with_mask_gaps_and_outliers():
    lk = pytest.importorskip("lightkurve")
    rng = np.random.default_rng(3)
    t = np.arange(0.0, 20.0, 0.0204)
    t = t[(t < 7.0) | (t > 7.8)]  # a data gap: the filter restarts after it
    f = 1 + 3e-3 * np.sin(2 * np.pi * t / 4.1) + 2e-4 * t + rng.normal(0, 2e-4, t.size)
    f[rng.random(t.size) < 0.01] += 5e-3  # outliers the sigma clipping rejects
    mask = lcmod.transit_mask(t, period_days=2.3, epoch=0.7, duration_hours=4.0)
    f[mask] -= 2e-3
    _, _, trend = lcmod.detrend(t, f, window_days=0.75, mask=mask, return_trend=True)
    np.testing.assert_allclose(trend, _lightkurve_trend(lk, t, f, 0.75, mask), rtol=1e-9, atol=0)


def test_detrend_reproduces_lightkurve_flatten_on_real_kepler_file(shared_data):
    lk, raw = _read_kepler_file(shared_data, "exohunt_example_10848459.fits")
    lc = lcmod.clean(raw.time.value, raw.flux.value, raw.flux_err.value, raw.quality.value)
    mask = lcmod.transit_mask(lc.time, period_days=1.736952453, epoch=170.307565,
                              duration_hours=2.40641)  # K00754.01, an 8000 ppm eclipse
    _, _, trend = lcmod.detrend(lc.time, lc.flux, window_days=1.0, mask=mask, return_trend=True)
    np.testing.assert_allclose(trend, _lightkurve_trend(lk, lc.time, lc.flux, 1.0, mask),
                               rtol=1e-9, atol=0)


def test_detrend_mask_covering_everything_raises_clear_error():
    t, f = _box_lc()
    with pytest.raises(LightCurveError, match="outside the mask"):
        lcmod.detrend(t, f, mask=np.ones(t.size, bool))


def test_prepare_ignores_a_transit_mask_that_would_hide_most_of_the_orbit():
    # a pulsator reported with period 0.06 d and duration 1.1 h: 1.5 durations > the period
    t = np.arange(0.0, 10.0, 0.0204)
    f = 1 + 1e-3 * np.sin(2 * np.pi * t / 0.06)
    lc = lcmod.prepare(t, f, period_days=0.06, epoch=0.01, duration_hours=1.1)
    assert lc.time.size == t.size and np.all(np.isfinite(lc.flux))
