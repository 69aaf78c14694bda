"""Table-level vetting features (classifier.table_features) on tiny tables."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from classifier.dataset import DEFAULT_SCALAR_NAMES
from classifier.loaders import load_archive_table
from classifier.table_features import (
    TABLE_FEATURE_NAMES,
    archive_table_features,
    candidate_number_from_name,
    instrumental_sigma,
    table_features,
)


def features(stars, periods, epochs, **kw):
    return table_features(np.array(stars, dtype=object), np.array(periods, float), np.array(epochs, float), **kw)


def test_multiplicity_and_sibling_ratios():
    f = features(["a", "a", "a", "b"], [10.0, 15.0, 31.0, 4.0], [1.0, 2.0, 3.0, 0.5],
                 duration_hours=[3.0] * 4, candidate_number=[1, 2, 3, 1])
    assert set(f) == set(TABLE_FEATURE_NAMES)
    np.testing.assert_array_equal(f["tbl_n_on_star"], [3, 3, 3, 1])
    np.testing.assert_array_equal(f["tbl_candidate_number"], [1, 2, 3, 1])
    assert f["tbl_sibling_period_ratio"][0] == pytest.approx(1.5)  # 15 / 10
    assert f["tbl_sibling_ratio_offset"][2] == pytest.approx(31 / 15 - 2)  # nearest integer ratio to 15 d: 2
    assert np.isnan(f["tbl_sibling_period_ratio"][3]) and np.isnan(f["tbl_sibling_alias"][3])  # single
    assert list(f["tbl_sibling_alias"][:3]) == [0, 0, 0]


def test_alias_at_double_period_and_eb_secondary():
    # star a: an EB found at P and again at 2P (same transit times); star b: primary + secondary
    f = features(["a", "a", "b", "b"], [2.0, 4.0, 5.0, 5.0], [100.0, 102.0, 10.0, 12.5],
                 period_err_days=[1e-5] * 4, duration_hours=[2.0] * 4)
    assert list(f["tbl_sibling_alias"]) == [1, 1, 0, 0]
    assert list(f["tbl_sibling_secondary"]) == [0, 0, 1, 1]
    assert f["tbl_sibling_ratio_offset"][0] == pytest.approx(0.0)


def test_ephemeris_match_across_stars_needs_period_and_phase():
    # star p: bright EB; c1 same ephemeris (contaminated), c2 same period but half a period off,
    # c3 at twice the period in phase (with p and c1), c4 unrelated.
    f = features(["p", "c1", "c2", "c3", "c4"], [3.1, 3.1, 3.1, 6.2, 7.7], [200.0, 203.1, 201.55, 200.0, 201.0],
                 period_err_days=[1e-5] * 5, epoch_err_days=[1e-3] * 5, duration_hours=[3.0] * 5)
    np.testing.assert_array_equal(f["tbl_ephem_matches"], [2, 2, 0, 2, 0])
    assert (f["tbl_ephem_match_sig"][[0, 1, 3]] > 0).all()
    assert f["tbl_ephem_match_sig"][4] == 0
    # a loose period is not a match
    g = features(["p", "c"], [3.1, 3.2], [200.0, 200.0], period_err_days=[1e-5, 1e-5])
    np.testing.assert_array_equal(g["tbl_ephem_matches"], [0, 0])


def test_period_excess_flags_a_pile_up():
    rng = np.random.default_rng(0)
    periods = np.concatenate([10 ** rng.uniform(0, 2, 300), np.full(20, 12.345)])
    f = features([f"s{i}" for i in range(len(periods))], periods, rng.uniform(0, 10, len(periods)))
    assert np.median(f["tbl_period_excess"][-20:]) > 5 * np.median(f["tbl_period_excess"][:300])


def test_instrumental_sigma_units():
    s = instrumental_sigma(np.array([372.5, 186.25, 50.0, np.nan]), None, "kepler")
    assert s[0] == pytest.approx(0.0) and s[1] == pytest.approx(0.0)  # 372.5 / 2 is a harmonic
    assert s[2] > 5 and np.isnan(s[3])
    t = instrumental_sigma(np.array([13.7 * 1.001]), np.array([0.0]), "tess")
    assert t[0] == pytest.approx(0.2, rel=1e-3)  # 0.1% off in units of 0.5% width
    assert np.isnan(instrumental_sigma(np.array([1.0]), None, None)[0])


def test_missing_values_give_nan_not_errors():
    f = features(["a", "a", "b"], [np.nan, 5.0, -1.0], [1.0, np.nan, 2.0])
    assert f["tbl_n_on_star"][0] == 2
    for name in ("tbl_ephem_matches", "tbl_sibling_period_ratio", "tbl_period_excess"):
        assert np.isnan(f[name]).all()
    with pytest.raises(ValueError, match="expected 3 values"):
        features(["a", "a", "b"], [1.0, 2.0, 3.0], [1.0, 2.0, 3.0], duration_hours=[1.0])


def test_candidate_number_from_names():
    np.testing.assert_array_equal(candidate_number_from_name(["K00752.01", "1000.02", "x"])[:2], [1, 2])
    assert np.isnan(candidate_number_from_name(["x"])[0])


def test_archive_tables_get_the_columns(tmp_path):
    koi = pd.DataFrame({"kepid": [1, 1, 2], "kepoi_name": ["K1.01", "K1.02", "K2.01"],
                        "koi_disposition": ["CONFIRMED", "CANDIDATE", "FALSE POSITIVE"],
                        "koi_period": [3.0, 6.0, 3.0], "koi_time0bk": [130.0, 130.0, 133.0],
                        "koi_duration": [2.0, 2.0, 2.0]})
    f = archive_table_features(koi, "koi")
    np.testing.assert_array_equal(f["tbl_candidate_number"], [1, 2, 1])
    np.testing.assert_array_equal(f["tbl_ephem_matches"], [1, 1, 2])  # K2.01 matches K1.01 (1:1), K1.02 (1:2)
    path = tmp_path / "koi.csv"
    path.write_text("# KOI\n" + koi.to_csv(index=False))
    ds = load_archive_table(path)
    assert ds.feature_names[:len(DEFAULT_SCALAR_NAMES)] == list(DEFAULT_SCALAR_NAMES)  # the site's columns
    col = ds.feature_names.index("tbl_n_on_star")
    np.testing.assert_array_equal(ds.X[:, col], [2, 2, 1])
    assert list(ds.y) == ["PC", None, None]  # CANDIDATE unlabeled; FP without a flag: kind unknown


def test_context_table_joins_the_features(tmp_path):
    head = "kepid,tce_plnt_num,tce_period,tce_time0bk,tce_duration,av_training_set\n"
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_text(head + "1,1,3.0,130.0,2.0,PC\n")
    b.write_text(head + "2,1,3.0,133.0,2.0,NTP\n1,1,3.0,130.0,2.0,PC\n")  # a's row again: not counted twice
    col = load_archive_table(a).feature_names.index("tbl_ephem_matches")
    assert load_archive_table(a).X[0, col] == 0
    with_context = load_archive_table(a, context=(b,))
    assert with_context.X[0, col] == 1 and with_context.X[0, with_context.feature_names.index("tbl_n_on_star")] == 1
