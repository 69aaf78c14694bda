"""The simulator: reproducible, well-formed, and each class shows its signature."""
from __future__ import annotations

import numpy as np
import pytest

from classifier import lightcurves as lcmod
from classifier.features import StarParams, vetting_metrics
from classifier.synthetic import simulate_candidate, simulate_population
from classifier.vocabulary import CLASS_CODES


def _metrics(c):
    lc = lcmod.prepare(c.time_bkjd, c.flux, c.flux_err, c.quality, period_days=c.period_days,
                       epoch=c.epoch_bkjd, duration_hours=c.duration_hours)
    star = StarParams(c.teff_k, c.logg_cgs, c.radius_rsun, c.mass_msun, c.magnitude)
    return vetting_metrics(lc.time, lc.flux, lc.flux_err, period_days=c.period_days,
                           epoch=c.epoch_bkjd, duration_hours=c.duration_hours, star=star)


def test_same_seed_gives_identical_arrays_and_other_seed_differs():
    a = list(simulate_population(6, seed=42))
    b = list(simulate_population(6, seed=42))
    c = list(simulate_population(6, seed=43))
    for x, y in zip(a, b):
        assert x.candidate_id == y.candidate_id and x.truth_class == y.truth_class
        np.testing.assert_array_equal(x.time_bkjd, y.time_bkjd)
        np.testing.assert_array_equal(x.flux, y.flux)  # NaNs compare equal here
        np.testing.assert_array_equal(x.quality, y.quality)
        assert x.period_days == y.period_days and x.snr == y.snr or np.isnan(x.snr)
    assert not all(x.flux.size == z.flux.size and np.allclose(x.flux, z.flux, equal_nan=True)
                   for x, z in zip(a, c))


@pytest.mark.parametrize("truth_class", CLASS_CODES)
def test_each_class_is_a_kepler_like_quarter(truth_class):
    c = simulate_candidate(truth_class, np.random.default_rng(1))
    n = c.time_bkjd.size
    assert 4000 < n < 4410  # 90 days of 29.4-min cadence minus downlink gaps
    assert c.flux.shape == c.flux_err.shape == c.quality.shape == (n,)
    assert c.quality.dtype == np.int32
    assert np.all(np.diff(c.time_bkjd) > 0)
    assert np.isnan(c.flux).any() and (c.quality != 0).any()
    assert abs(np.nanmedian(c.flux) - 1) < 0.05
    assert c.truth_class == truth_class
    assert c.period_days > 0 and c.duration_hours > 0 and np.isfinite(c.epoch_bkjd)
    assert 2500 < c.teff_k < 8000 and 0.3 < c.mass_msun < 2 and 11 <= c.magnitude <= 16


def test_unknown_class_is_rejected():
    with pytest.raises(ValueError, match="unknown label class"):
        simulate_candidate("XX", np.random.default_rng(0))


def test_population_mix_and_shared_stars():
    cands = list(simulate_population(60, seed=3, multi_fraction=0.3))
    classes = {c.truth_class for c in cands}
    assert classes == set(CLASS_CODES)
    stars = [c.star_id for c in cands]
    assert len(set(stars)) < len(stars)  # some stars host several candidates
    assert len({c.candidate_id for c in cands}) == len(cands)


def _population(cls, n, seed):
    return list(simulate_population(n, seed=seed, class_fractions={cls: 1.0}))


def test_eclipsing_binary_secondary_is_measurable():
    ebs = [c for c in _population("EB", 20, 5)
           if not c.truth["twice_period"] and c.truth["ecc"] == 0]
    assert len(ebs) >= 5
    sig = [_metrics(c)["secondary_sigma"] for c in ebs]
    assert np.median(sig) > 5


def test_twice_period_eb_has_odd_even_difference():
    twins = [c for c in _population("EB", 40, 6) if c.truth["twice_period"]]
    assert len(twins) >= 3
    for c in twins:
        m = _metrics(c)
        assert m["odd_even_sigma"] > 3, (c.candidate_id, m["odd_even_sigma"])


def test_planets_are_u_shaped_grazing_ebs_v_shaped():
    planets = [c for c in _population("PC", 30, 7) if c.snr > 40]
    grazing = [c for c in _population("EB", 40, 8)
               if c.truth["impact"] > 1.0 and not c.truth["twice_period"]]
    assert planets and grazing
    flat_pc = np.median([_metrics(c)["shape_flat_fraction"] for c in planets])
    flat_eb = np.median([_metrics(c)["shape_flat_fraction"] for c in grazing])
    assert flat_pc > 0.4 and flat_eb < 0.3 and flat_pc > flat_eb


def test_blended_eb_is_diluted():
    for c in _population("BEB", 5, 9):
        assert 0 < c.truth["dilution"] <= 1
        assert c.depth_ppm < 1e5


def test_catalog_ephemerides_are_ones_a_pipeline_could_report():
    # no "transit" lasting half the orbit or more (fast pulsators were reported with a
    # 1-hour duration at a 1.2-hour period); they are reported at a multiple >= 0.5 d
    for cand in _population("V", 120, seed=8) + list(simulate_population(120, seed=9)):
        assert cand.duration_hours / 24.0 < 0.5 * cand.period_days, cand.truth
        if cand.truth.get("kind") == "pulsation":
            assert cand.period_days >= 0.5, cand.truth


def test_planet_catalog_snr_is_measured_like_a_pipeline_above_the_detection_threshold():
    # measured on the detrended light curve (as a pipeline does), a simulated planet clears
    # Kepler's 7.1-sigma threshold; on the raw flux 14% of them fell below it
    snr = np.array([c.snr for c in _population("PC", 80, 21)])
    assert np.mean(snr >= 7.1) >= 0.95


def test_catalog_depth_and_snr_are_always_numbers():
    # seed 21 holds a twice-period EB whose eclipses last 5.3 h of a 9.6-h reported period:
    # no cadence lay a full duration away from them, and its depth and SNR were NaN
    ebs = _population("EB", 300, 21)
    assert all(np.isfinite(c.depth_ppm) and np.isfinite(c.snr) for c in ebs)
