"""Vetting flags: the published thresholds applied to Candidate.features."""
from __future__ import annotations

import math

import numpy as np
import pytest

from classifier.dataset import FLAG_SCALAR_NAMES, CandidateRecord, design_matrix
from classifier.flags import (
    FLAG_NAMES,
    FLAGS,
    GROUPS,
    INPUT_NAMES,
    evaluate,
    failed_flags,
    false_alarm_sigmas,
    maybe_computable,
)

PLANET = {"snr_red": 25.0, "n_transits": 8.0, "impact_plus_radius_ratio": 0.5, "odd_even_sigma": 0.8,
          "odd_depth_ppm": 1000.0, "odd_depth_err_ppm": 60.0, "even_depth_ppm": 1040.0, "even_depth_err_ppm": 60.0,
          "secondary_best_sigma": 2.5, "secondary_best_phase": 0.41, "secondary_best_depth_ppm": 50.0,
          "secondary_tertiary_sigma": 2.3, "secondary_positive_sigma": 2.6, "primary_sigma": 25.0,
          "red_noise_factor": 1.1, "secondary_albedo": 0.2, "depth_ppm": 1000.0, "planet_radius_rearth": 2.5,
          "period_days": 10.0, "duration_hours": 3.0, "a_over_rstar": 20.0, "duration_ratio": 0.9}


def test_every_flag_has_a_group_a_threshold_and_a_reference():
    assert FLAG_NAMES == tuple(f.name for f in FLAGS) and len(set(FLAG_NAMES)) == len(FLAGS)
    assert {f.group for f in FLAGS} == set(GROUPS)
    for required in ("odd_even", "secondary", "v_shape", "duration", "centroid_offset", "snr", "n_transits"):
        assert required in FLAG_NAMES
    assert all(f.threshold_text and f.reference for f in FLAGS)


def test_a_planet_passes_and_missing_metrics_are_not_computable():
    results = evaluate(PLANET)
    assert [r.name for r in results] == list(FLAG_NAMES)
    by_name = {r.name: r for r in results}
    assert by_name["centroid_offset"].passed is None and by_name["centroid_offset"].value is None
    assert all(r.passed for r in results if r.name != "centroid_offset")
    assert failed_flags(PLANET) == []
    assert all(r.passed is None for r in evaluate({}))
    assert evaluate({**PLANET, "odd_even_sigma": float("nan")})[FLAG_NAMES.index("odd_even")].passed is None


@pytest.mark.parametrize(("change", "flag"), [
    ({"snr_red": 5.0}, "snr"),
    ({"n_transits": 1.0}, "n_transits"),
    ({"impact_plus_radius_ratio": 1.2}, "v_shape"),
    ({"odd_even_sigma": 5.0}, "odd_even"),
    ({"secondary_best_sigma": 12.0, "secondary_best_depth_ppm": 400.0, "secondary_albedo": 3.0}, "secondary"),
    ({"a_over_rstar": 1.5}, "duration"),
    ({"planet_radius_rearth": 40.0}, "radius"),
    ({"centroid_offset_sigma": 6.0}, "centroid_offset"),
])
def test_each_failure(change, flag):
    assert failed_flags({**PLANET, **change}) == [flag]


def test_secondary_exceptions_and_look_elsewhere_thresholds():
    fa1, fa2 = false_alarm_sigmas(10.0, 3.0)
    assert 4.5 < fa1 < 6.5 and 2.0 < fa2 < 3.0  # Coughlin et al. 2016: ~5-6 and ~2-3 sigma
    strong = {**PLANET, "secondary_best_sigma": fa1 + 2, "secondary_best_depth_ppm": 400.0, "secondary_albedo": 3.0}
    assert "secondary" in failed_flags(strong)
    # as strong as the noise elsewhere at this period: not unique, not a secondary
    assert "secondary" not in failed_flags({**strong, "secondary_tertiary_sigma": fa1 + 1.5})
    # a hot Jupiter's occultation: shallow and a plausible albedo
    assert "secondary" not in failed_flags({**strong, "secondary_best_depth_ppm": 50.0, "secondary_albedo": 0.4})
    # an identical "secondary" at phase 0.5: the period is half the true one
    twin = {**strong, "secondary_best_phase": 0.5, "primary_sigma": fa1 + 2.5}
    assert "secondary" not in failed_flags(twin)


def test_odd_even_not_judged_when_one_parity_shows_no_dip():
    assert "odd_even" not in failed_flags({**PLANET, "odd_even_sigma": 9.0, "even_depth_ppm": 20.0})


def test_flags_are_design_matrix_columns():
    features = {f"lc_{k}": v for k, v in PLANET.items() if k not in ("period_days", "duration_hours")}
    records = [CandidateRecord("a", 1, scalars={**features, "period_days": 10.0, "duration_hours": 3.0}),
               CandidateRecord("b", 2, scalars={**features, "lc_odd_even_sigma": 6.0, "period_days": 10.0,
                                                "duration_hours": 3.0}),
               CandidateRecord("c", 3, scalars={})]
    X, names = design_matrix(records)
    col = {n: i for i, n in enumerate(names)}
    assert set(FLAG_SCALAR_NAMES) <= set(col)
    assert X[0, col["flag_odd_even"]] == 0.0 and X[1, col["flag_odd_even"]] == 1.0
    assert np.isnan(X[2, col["flag_odd_even"]]) and math.isnan(X[0, col["flag_centroid_offset"]])
    # models trained before the flags existed ask for their own columns and get no flag column
    X_old, old_names = design_matrix(records, scalar_names=["period_days", "lc_odd_even_sigma"])
    assert not any(n.startswith("flag_") for n in old_names)


def test_flag_bits_are_explicit_unique_and_fit_a_bigint():
    from classifier.flags import FLAG_BITS, flag_bit

    assert set(FLAG_BITS) == set(FLAG_NAMES)
    assert len(set(FLAG_BITS.values())) == len(FLAG_BITS) and all(0 <= b < 63 for b in FLAG_BITS.values())
    # stored masks depend on these numbers: they never change (a new flag takes a new bit)
    assert FLAG_BITS == {"snr": 0, "n_transits": 1, "v_shape": 2, "odd_even": 3, "secondary": 4,
                         "centroid_offset": 5, "duration": 6, "radius": 7}
    assert flag_bit("odd_even") == 8


def test_failed_mask_sets_the_bit_of_each_failed_flag():
    from classifier.flags import FLAG_BITS, failed_mask

    assert failed_mask(PLANET) == 0 and failed_mask({}) == 0 and failed_mask(None) == 0
    bad = {**PLANET, "snr_red": 5.0, "planet_radius_rearth": 40.0, "centroid_offset_sigma": 6.0}
    mask = failed_mask(bad)
    assert mask == (1 << FLAG_BITS["snr"]) | (1 << FLAG_BITS["radius"]) | (1 << FLAG_BITS["centroid_offset"])
    assert {name for name, bit in FLAG_BITS.items() if mask >> bit & 1} == set(failed_flags(bad))


def test_the_planet_occultation_exception_excludes_grazing_eclipses():
    """Robovetter DR25: a secondary a planet's albedo could explain passes only for b < 0.95."""
    fa1, _ = false_alarm_sigmas(PLANET["period_days"], PLANET["duration_hours"])
    occultation = {**PLANET, "secondary_best_sigma": fa1 + 3.0, "secondary_tertiary_sigma": 0.0,
                   "secondary_positive_sigma": 0.0, "secondary_best_depth_ppm": 50.0, "secondary_albedo": 0.4,
                   "radius_ratio": 0.03}
    assert "secondary" not in failed_flags({**occultation, "impact_plus_radius_ratio": 0.5})  # b = 0.47
    assert "secondary" in failed_flags({**occultation, "impact_plus_radius_ratio": 1.0})  # b = 0.97: grazing


def _random_features(rng, missing_share: float) -> dict:
    """PLANET's metrics scaled at random, each missing (None or NaN) with ``missing_share``."""
    out = {}
    for key, value in PLANET.items():
        if rng.random() < missing_share:
            out[key] = None if rng.random() < 0.5 else float("nan")
        else:
            out[key] = value * rng.uniform(0.0, 3.0) * (-1 if rng.random() < 0.05 else 1)
    out["secondary_best_phase"] = rng.uniform(0, 1)
    return out


def test_a_flag_missing_a_required_metric_is_not_computable():
    """``Flag.requires`` is what design matrices rely on to skip rows (maybe_computable): checked
    on random metrics, with each required metric removed in turn."""
    rng = np.random.default_rng(4)
    for flag in FLAGS:
        assert flag.requires and set(flag.requires) <= set(INPUT_NAMES), flag.name
        for _ in range(300):
            features = _random_features(rng, missing_share=0.2)
            for metric in flag.requires:
                assert flag.passes({**features, metric: None}) is None, (flag.name, metric)
                assert flag.passes({**features, metric: float("nan")}) is None, (flag.name, metric)


def test_maybe_computable_keeps_every_row_some_flag_computes():
    rng = np.random.default_rng(5)
    rows = [_random_features(rng, missing_share=share) for share in (0.0, 0.5, 0.9, 1.0) for _ in range(200)]
    columns = {m: np.array([np.nan if r.get(m) is None else r[m] for r in rows], dtype=float) for m in INPUT_NAMES}
    mask = maybe_computable(columns)
    computed = np.array([any(result.passed is not None for result in evaluate(r)) for r in rows])
    assert not (computed & ~mask).any()  # never skips a row with a verdict
    assert mask.sum() < len(rows) and (~mask).sum() > 100  # and does skip rows
