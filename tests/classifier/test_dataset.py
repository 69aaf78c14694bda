"""Tests of the design matrix and the loaders."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from classifier.dataset import (
    DEFAULT_SCALAR_NAMES,
    CandidateRecord,
    design_matrix,
    feature_names_for,
    scalar_names_from_feature_names,
)
from classifier.loaders import load_archive_table, load_astronet_dir
from tests.classifier.test_cli import write_astronet_dir, write_dr24_table


def test_design_matrix_fixed_order_and_nan_for_missing():
    phase = np.linspace(-0.5, 0.5, 201)
    gv = np.where(np.abs(phase) < 0.01, -1.0, 0.0)
    gv[np.abs(phase) > 0.49] = -0.4  # secondary eclipse at phase 0.5
    lv = np.where(np.abs(np.linspace(-1, 1, 61)) < 0.3, -1.0, 0.0)
    recs = [
        CandidateRecord("a", 1, gv, lv, {"period_days": 3.0, "depth_ppm": 1000.0, "snr": 12}),
        CandidateRecord("b", 2, scalars={"snr": None, "teff_k": "not a number"}),
    ]
    X, names = design_matrix(recs)
    assert names == feature_names_for(DEFAULT_SCALAR_NAMES)
    assert X.shape == (2, len(names)) and len(set(names)) == len(names)
    col = {n: i for i, n in enumerate(names)}
    assert X[0, col["period_days"]] == 3.0 and np.isnan(X[0, col["teff_k"]])
    assert X[0, col["log_snr"]] == pytest.approx(np.log10(12))
    assert X[0, col["lv_depth"]] == pytest.approx(1.0)
    assert X[0, col["gv_secondary_depth"]] == pytest.approx(0.4, abs=0.05)
    assert X[0, col["gv_secondary_phase"]] > 0.45
    # second record: no views -> the whole view block is NaN; bad scalar strings -> NaN
    view_cols = [i for n, i in col.items() if n.startswith(("gv_", "lv_"))]
    assert np.isnan(X[1, view_cols]).all()
    assert np.isnan(X[1, col["snr"]]) and np.isnan(X[1, col["teff_k"]])


def test_design_matrix_custom_scalars_roundtrip_and_bad_view():
    recs = [CandidateRecord("a", 1, scalars={"odd_even_sigma": 2.5, "period_days": 1.0})]
    X, names = design_matrix(recs, scalar_names=["period_days", "odd_even_sigma"])
    assert names[:2] == ["period_days", "odd_even_sigma"] and X[0, 1] == 2.5
    assert scalar_names_from_feature_names(names) == ["period_days", "odd_even_sigma"]
    with pytest.raises(ValueError, match="global_view.*bins"):
        design_matrix([CandidateRecord("x", 1, global_view=np.zeros(100))])


def test_load_astronet_dir_labels_groups_and_reordered_views(tmp_path):
    d = write_astronet_dir(tmp_path / "a", n=12)
    table = pd.read_csv(d / "candidates.csv")
    table.loc[0, "label_4class"] = "O"  # "other" maps to junk
    table["label_orig_6class"] = table["label_4class"]
    table.loc[3, "label_orig_6class"] = "V"
    table.to_csv(d / "candidates.csv", index=False)
    with np.load(d / "views.npz") as z:
        views = {k: z[k][::-1] for k in z.files}  # same candidates, another order
    np.savez(d / "views.npz", **views)
    ds = load_astronet_dir(d)
    assert ds.y[0] == "J" and set(ds.y) <= {"PC", "EB", "J"}
    assert ds.groups[0] == ds.groups[1]  # two candidates per star in the fixture
    fine = load_astronet_dir(d, fine_labels=True)
    assert fine.y[3] == "V" and fine.y[1] == "EB"
    lv_cols = [i for i, n in enumerate(ds.feature_names) if n.startswith("lv_") and n[3:].isdigit()]
    np.testing.assert_allclose(ds.X[0, lv_cols], views["local_view"][-1], rtol=1e-6)


def test_load_astronet_dir_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="candidates.csv"):
        load_astronet_dir(tmp_path)
    d = write_astronet_dir(tmp_path / "b", n=8, n_views=6)
    with pytest.raises(ValueError, match="6 candidates but"):
        load_astronet_dir(d)


def test_archive_tables(tmp_path):
    ds = load_archive_table(write_dr24_table(tmp_path / "dr24.csv", n=16))
    assert list(ds.y[:4]) == ["PC", "EB", "J", None]  # PC/AFP/NTP/UNK
    assert ds.labeled_mask.sum() == 12 and ds.candidate_ids[0] == "10000-1"
    koi = tmp_path / "koi.csv"
    koi.write_text(
        "# COLUMN kepid: KepID\n"
        "kepid,kepoi_name,koi_disposition,koi_fpflag_nt,koi_fpflag_ss,koi_fpflag_co,koi_fpflag_ec,koi_period,koi_depth\n"
        "1,K1.01,CONFIRMED,0,0,0,0,3.0,500\n1,K1.02,FALSE POSITIVE,0,1,0,0,1.0,9000\n"
        "2,K2.01,FALSE POSITIVE,0,1,1,0,2.0,100\n3,K3.01,FALSE POSITIVE,1,0,0,0,5.0,50\n"
    )
    ds = load_archive_table(koi)
    assert list(ds.y) == ["PC", "EB", "BEB", "J"] and list(ds.groups) == ["1", "1", "2", "3"]
    toi = tmp_path / "toi.csv"
    toi.write_text("# TOI\ntoi,tid,tfopwg_disp,pl_orbper\n100.01,5,KP,1.0\n101.01,6,FA,2.0\n102.01,7,APC,3.0\n")
    # FA (false alarm) -> IS, the same rule as the importers (classifier.dispositions.TOI_TO_CLASS)
    assert list(load_archive_table(toi).y) == ["PC", "IS", None]
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="unrecognised"):
        load_archive_table(bad)
    nokey = tmp_path / "nokey.csv"
    nokey.write_text("kepid,av_training_set\n1,PC\n")
    with pytest.raises(ValueError, match="tce_plnt_num"):
        load_archive_table(nokey)


def test_real_astronet_rows_load(shared_data, tmp_path):
    src = shared_data / "tess" / "astronet_triage"
    table = pd.read_csv(src / "candidates.csv", nrows=40)
    with np.load(src / "views.npz") as z:
        np.savez(tmp_path / "views.npz", **{k: z[k][:40] for k in z.files})
    table.to_csv(tmp_path / "candidates.csv", index=False)
    ds = load_astronet_dir(tmp_path)
    assert ds.X.shape[0] == 40 and set(ds.y) <= {"PC", "EB", "J"}
    assert np.isfinite(ds.X[:, ds.feature_names.index("lv_depth")]).all()


def test_design_matrix_from_arrays_matches_records():
    from classifier.dataset import design_matrix_from_arrays

    rng = np.random.default_rng(0)
    gv, lv = rng.normal(size=(3, 201)), rng.normal(size=(3, 61))
    gv[1] = np.nan  # absent global view
    scalars = {"period_days": np.array([1.0, np.nan, 5.0]), "depth_ppm": np.array([100.0, 200.0, -1.0])}
    recs = [
        CandidateRecord(str(i), i, None if i == 1 else gv[i], lv[i], {k: v[i] for k, v in scalars.items()})
        for i in range(3)
    ]
    X_rec, names_rec = design_matrix(recs)
    X_arr, names_arr = design_matrix_from_arrays(scalars, gv, lv)
    assert names_rec == names_arr
    np.testing.assert_allclose(X_rec, X_arr, equal_nan=True)
    col = names_arr.index("log_depth")
    assert np.isnan(X_arr[2, col]) and X_arr[0, col] == pytest.approx(2.0)


def test_models_trained_with_old_scalar_names_get_the_same_columns():
    """Artifacts store feature names: names from before the rename still find their values."""
    from classifier.dataset import RENAMED_SCALARS, design_matrix_from_arrays

    rng = np.random.default_rng(1)
    scalars = {new: rng.uniform(1, 2, 5) for new in RENAMED_SCALARS.values()}
    old_names = list(RENAMED_SCALARS)
    X_old, names_old = design_matrix_from_arrays(scalars, None, None, scalar_names=old_names)
    X_new, names_new = design_matrix_from_arrays(scalars, None, None, scalar_names=list(RENAMED_SCALARS.values()))
    assert names_old[:len(old_names)] == old_names  # the model's own names come back
    assert scalar_names_from_feature_names(names_old) == old_names
    np.testing.assert_array_equal(X_old, X_new)
    recs = [CandidateRecord("a", 1, scalars={"teff_k": 5000.0})]
    X, names = design_matrix(recs, scalar_names=["teff"])
    assert names[0] == "teff" and X[0, 0] == 5000.0


def test_scalar_names_follow_the_model_fields_and_the_metrics():
    from classifier.dataset import (
        CATALOG_SCALAR_NAMES,
        FLAG_SCALAR_NAMES,
        LIGHTCURVE_SCALAR_NAMES,
        TABLE_SCALAR_NAMES,
    )
    from classifier.features import FEATURE_NAMES, PASS_THROUGH_NAMES
    from classifier.flags import FLAG_NAMES
    from classifier.table_features import TABLE_FEATURE_NAMES

    assert {"teff_k", "logg_cgs", "radius_rsun", "mass_msun", "planet_radius_rearth"} <= set(CATALOG_SCALAR_NAMES)
    assert DEFAULT_SCALAR_NAMES == (
        CATALOG_SCALAR_NAMES + LIGHTCURVE_SCALAR_NAMES + FLAG_SCALAR_NAMES + TABLE_SCALAR_NAMES)
    assert TABLE_SCALAR_NAMES == TABLE_FEATURE_NAMES
    assert FLAG_SCALAR_NAMES == tuple(f"flag_{n}" for n in FLAG_NAMES)
    assert [n[3:] for n in LIGHTCURVE_SCALAR_NAMES] == [n for n in FEATURE_NAMES if n not in PASS_THROUGH_NAMES]
    assert PASS_THROUGH_NAMES <= set(FEATURE_NAMES)


def _sparse_views(rng, n: int, share_present: float) -> tuple[np.ndarray, np.ndarray]:
    """Random (n, 201) and (n, 61) views with NaN bins; a row has each view with ``share_present``."""
    gv, lv = rng.normal(size=(n, 201)), rng.normal(size=(n, 61))
    gv[rng.random(gv.shape) < 0.05] = np.nan
    lv[rng.random(lv.shape) < 0.05] = np.nan
    gv[rng.random(n) >= share_present] = np.nan
    lv[rng.random(n) >= share_present] = np.nan
    return gv, lv


@pytest.mark.parametrize("share_present", [0.0, 0.002, 0.02, 0.5, 1.0])
def test_view_features_of_the_rows_with_views_equal_those_of_every_row(share_present):
    """Rows without views are skipped: every value stays bit for bit what the whole matrix gives
    (also when a single row has a view: numpy sums a lone row in another order)."""
    from classifier.dataset import _harmonics, _view_features, _view_features_rows

    rng = np.random.default_rng(6)
    for n in (1, 2, 7, 300, 2000):
        gv, lv = _sparse_views(rng, n, share_present)
        if n > 1 and share_present == 0.002:
            gv[1:], lv[1:] = np.nan, np.nan  # exactly one row with views
            gv[0], lv[0] = rng.normal(size=201), rng.normal(size=61)
        every_row = _view_features_rows(gv, lv, _harmonics(gv))
        assert _view_features(gv, lv).tobytes() == every_row.tobytes()


def test_flag_columns_skip_only_rows_no_flag_can_judge():
    from classifier.dataset import FLAG_SCALAR_NAMES, _flag_columns
    from classifier.flags import INPUT_NAMES, evaluate

    rng = np.random.default_rng(7)
    n = 400
    inputs = {m: np.where(rng.random(n) < 0.7, np.nan, rng.uniform(0, 30, n)) for m in INPUT_NAMES}
    inputs["period_days"], inputs["duration_hours"] = rng.uniform(1, 30, n), rng.uniform(1, 8, n)
    expected = np.full((n, len(FLAG_SCALAR_NAMES)), np.nan)
    for i in range(n):  # every row evaluated, as before rows were skipped
        for j, result in enumerate(evaluate({m: float(col[i]) for m, col in inputs.items()})):
            if result.passed is not None:
                expected[i, j] = 0.0 if result.passed else 1.0
    got = _flag_columns(inputs, n)
    np.testing.assert_array_equal(np.column_stack([got[name] for name in FLAG_SCALAR_NAMES]), expected)
    assert np.isfinite(expected).any() and np.isnan(expected).all(axis=1).any()


def test_mirror_views_equals_the_design_matrix_of_reversed_views():
    """Augmentation must give exactly the rows the featuriser makes from time-reversed views,
    including the view features that are odd under reversal (asymmetry, sine harmonic)."""
    from classifier.dataset import design_matrix_from_arrays, mirror_views

    rng = np.random.default_rng(3)
    n = 6
    phase = np.linspace(-0.5, 0.5, 201)
    gv = rng.normal(0, 0.05, (n, 201)) + 0.2 * np.sin(2 * np.pi * phase)  # asymmetric out of transit
    gv[:, 95:106] -= 1.0
    gv[:, 150:156] -= 0.3  # secondary eclipse off phase 0.5 (eccentric orbit)
    gv[1, 10] = np.nan
    lv = rng.normal(0, 0.05, (n, 61)) + np.linspace(-0.3, 0.3, 61)  # a ramp: lv_asymmetry != 0
    lv[:, 25:36] -= 1.0
    lv[2] = np.nan  # no local view
    scalars = {"period_days": rng.uniform(1, 10, n), "snr": rng.uniform(8, 50, n)}
    X, names = design_matrix_from_arrays(scalars, gv, lv)
    X_rev, _ = design_matrix_from_arrays(scalars, gv[:, ::-1], lv[:, ::-1])
    col = {c: i for i, c in enumerate(names)}
    assert abs(X[0, col["lv_asymmetry"]]) > 0.1 and abs(X[0, col["gv_sin1"]]) > 0.05  # the odd features matter
    np.testing.assert_allclose(mirror_views(X), X_rev, rtol=1e-9, atol=1e-12, equal_nan=True)
    np.testing.assert_array_equal(mirror_views(mirror_views(X)), X)


def test_mirror_views_rejects_rows_without_the_view_block():
    from classifier.dataset import mirror_views

    with pytest.raises(ValueError, match="view columns"):
        mirror_views(np.zeros((3, 20)))
