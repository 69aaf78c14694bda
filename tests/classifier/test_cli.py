"""End-to-end tests of ``python -m classifier`` on tiny temporary directories."""
from __future__ import annotations

import csv
import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from classifier.cli import main
from tests.conftest import REPO_ROOT


def write_astronet_dir(path, n=60, seed=0, labels=True, n_views=None):
    """Tiny Astronet-layout directory: planets have box dips, EBs deep V dips + secondaries."""
    rng = np.random.default_rng(seed)
    path.mkdir(parents=True, exist_ok=True)
    lab = np.array(["PC", "EB", "J", "J"] * (n // 4) + ["J"] * (n % 4))
    phase_g, phase_l = np.linspace(-0.5, 0.5, 201), np.linspace(-1, 1, 61)
    gv = rng.normal(scale=0.05, size=(n, 201)).astype(np.float32)
    lv = rng.normal(scale=0.05, size=(n, 61)).astype(np.float32)
    for i, c in enumerate(lab):
        if c == "PC":
            gv[i, np.abs(phase_g) < 0.01] -= 1
            lv[i, np.abs(phase_l) < 0.3] -= 1
        elif c == "EB":
            gv[i] -= np.clip(1 - np.abs(phase_g) / 0.02, 0, None)
            gv[i, np.abs(phase_g) > 0.48] -= 0.5
            lv[i] -= np.clip(1 - np.abs(phase_l) / 0.5, 0, None)
    table = pd.DataFrame({
        "candidate_id": [f"TIC{1000 + i // 2}-R{i}" for i in range(n)],
        "tic_id": [1000 + i // 2 for i in range(n)],
        "period_days": rng.uniform(0.5, 10, n),
        "duration_days": rng.uniform(0.05, 0.2, n),
        "transit_depth_ppm": np.where(lab == "EB", 20000, 2000) * rng.uniform(0.5, 1.5, n),
        "snr": rng.uniform(7, 30, n),
        "tmag": rng.uniform(8, 13, n),
        "teff": rng.uniform(4000, 7000, n),
    })
    if labels:
        table["label_4class"] = lab
    table.to_csv(path / "candidates.csv", index=False)
    k = n if n_views is None else n_views
    ids = table["candidate_id"].to_numpy().astype(str)
    np.savez(path / "views.npz", candidate_id=ids[:k], global_view=gv[:k], local_view=lv[:k])
    return path


def write_dr24_table(path, n=80, seed=0):
    rng = np.random.default_rng(seed)
    lab = np.array(["PC", "AFP", "NTP", "UNK"] * (n // 4))
    depth = np.where(lab == "AFP", 30000, np.where(lab == "PC", 800, 100)) * rng.uniform(0.5, 1.5, n)
    with open(path, "w") as fh:
        fh.write("# This file was produced by the NASA Exoplanet Archive\n# COLUMN kepid: KepID\n")
        pd.DataFrame({
            "kepid": 10000 + np.arange(n) // 2, "tce_plnt_num": 1 + np.arange(n) % 2,
            "tce_period": rng.uniform(1, 50, n), "tce_duration": rng.uniform(1, 8, n), "tce_depth": depth,
            "tce_model_snr": np.where(lab == "NTP", 8, 40) * rng.uniform(0.8, 1.2, n),
            "tce_impact": rng.uniform(0, 1, n),
            "tce_steff": 5700, "tce_slogg": 4.4, "tce_sradius": 1.0, "tce_prad": np.sqrt(depth) / 10,
            "av_training_set": lab,
        }).to_csv(fh, index=False)
    return path


def read_predictions(path):
    with open(path) as fh:
        return list(csv.DictReader(fh))


@pytest.mark.parametrize("test_labels", [True, False])
def test_evaluate_astronet_layout(tmp_path, test_labels):
    train = write_astronet_dir(tmp_path / "train", n=80, seed=1)
    test = write_astronet_dir(tmp_path / "test", n=24, seed=2, labels=test_labels)
    out = tmp_path / "out"
    assert main(["evaluate", "--train", str(train), "--test", str(test), "--out", str(out), "--profile", "fast"]) == 0
    rows = read_predictions(out / "predictions.csv")
    assert len(rows) == 24
    assert list(rows[0]) == ["candidate_id", "p_PC", "p_EB", "p_J", "p_planet", "p_triage", "uncertainty"]
    for r in rows:
        assert abs(float(r["p_PC"]) + float(r["p_EB"]) + float(r["p_J"]) - 1) < 1e-4
        assert abs(float(r["p_planet"]) - float(r["p_PC"])) < 1e-4
    assert (out / "metrics.json").exists() == test_labels
    if test_labels:
        metrics = json.loads((out / "metrics.json").read_text())
        assert metrics["planet_ap"] > 0.5  # planets are the box-shaped dips: easy
        assert set(metrics["recall"]) == {"PC", "EB", "J"}


def test_evaluate_archive_table_via_subprocess(tmp_path):
    train = write_dr24_table(tmp_path / "train.csv", n=80, seed=0)
    test = write_dr24_table(tmp_path / "test.csv", n=40, seed=1)
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "classifier", "evaluate", "--train", str(train), "--test", str(test),
         "--out", str(out), "--profile", "fast"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    rows = read_predictions(out / "predictions.csv")
    assert len(rows) == 40  # every row, including UNK ones
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["n"] == 30  # only PC/AFP/NTP rows are scored against labels
    assert metrics["triage_auc"] > 0.7


def test_evaluate_errors_are_clear(tmp_path, capsys):
    unlabeled = write_astronet_dir(tmp_path / "unl", n=20, labels=False)
    test = write_astronet_dir(tmp_path / "test", n=8)
    assert main(["evaluate", "--train", str(unlabeled), "--test", str(test), "--out", str(tmp_path / "o")]) == 2
    assert "no labels" in capsys.readouterr().err
    bad = write_astronet_dir(tmp_path / "bad", n=20, n_views=15)
    assert main(["evaluate", "--train", str(bad), "--test", str(test), "--out", str(tmp_path / "o")]) == 2
    assert "15 candidates but" in capsys.readouterr().err
    nocol = tmp_path / "nocol"
    write_astronet_dir(nocol, n=8)
    pd.read_csv(nocol / "candidates.csv").drop(columns=["tic_id"]).to_csv(nocol / "candidates.csv", index=False)
    assert main(["evaluate", "--train", str(nocol), "--test", str(test), "--out", str(tmp_path / "o")]) == 2
    assert "tic_id" in capsys.readouterr().err
    missing = str(tmp_path / "missing")
    assert main(["evaluate", "--train", missing, "--test", str(test), "--out", str(tmp_path / "o")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_simulate_writes_one_row_per_round(tmp_path):
    pool = write_astronet_dir(tmp_path / "pool", n=120, seed=3)
    test = write_astronet_dir(tmp_path / "test", n=40, seed=4)
    out = tmp_path / "curve.csv"
    code = main(["simulate", "--pool", str(pool), "--test", str(test), "--strategy", "default", "--initial", "20",
                 "--batch", "15", "--budget", "50", "--seed", "1", "--out", str(out)])
    assert code == 0
    rows = read_predictions(out)
    assert [int(r["n_labels"]) for r in rows] == [20, 35, 50]
    assert {r["strategy"] for r in rows} == {"default"}
    assert all(0 <= float(r["planet_ap"]) <= 1 and 0 <= float(r["ece"]) <= 1 for r in rows)


def write_astronet_dir_with_lightcurves(path, n=8, seed=0, with_curves=None):
    """Astronet-layout directory of simulated candidates; ``lightcurves/<id>.npz`` for the
    first ``with_curves`` of them (time in the same system as ``epoch_btjd``)."""
    from classifier.products import lightcurve_products
    from classifier.synthetic import simulate_candidate

    rng = np.random.default_rng(seed)
    classes = ["PC", "EB"] * n
    sims = [simulate_candidate(classes[i], rng, candidate_id=f"SIM{i}") for i in range(n)]
    (path / "lightcurves").mkdir(parents=True)
    rows, gv, lv = [], [], []
    for i, s in enumerate(sims):
        products = lightcurve_products(s.time_bkjd, s.flux, s.flux_err, s.quality, period_days=s.period_days,
                                       epoch=s.epoch_bkjd, duration_hours=s.duration_hours)
        gv.append(products.global_view or np.zeros(201))
        lv.append(products.local_view or np.zeros(61))
        rows.append({"candidate_id": s.candidate_id, "tic_id": 100 + i, "period_days": s.period_days,
                     "epoch_btjd": s.epoch_bkjd, "duration_days": s.duration_hours / 24,
                     "transit_depth_ppm": s.depth_ppm,
                     "snr": s.snr, "tmag": s.magnitude, "teff": s.teff_k, "logg": s.logg_cgs, "star_rad": s.radius_rsun,
                     "star_mass": s.mass_msun, "label_4class": s.truth_class})
        if with_curves is None or i < with_curves:
            np.savez(path / "lightcurves" / f"{s.candidate_id}.npz", time=s.time_bkjd, flux=s.flux,
                     flux_err=s.flux_err, quality=s.quality)
    pd.DataFrame(rows).to_csv(path / "candidates.csv", index=False)
    np.savez(path / "views.npz", candidate_id=np.array([s.candidate_id for s in sims]),
             global_view=np.array(gv, np.float32), local_view=np.array(lv, np.float32))
    return path, sims


def test_light_curves_beside_the_views_give_the_light_curve_metrics(tmp_path):
    """The command line measures light curves exactly as the site does at import."""
    from classifier.dataset import DEFAULT_SCALAR_NAMES, LIGHTCURVE_SCALAR_NAMES
    from classifier.loaders import load_astronet_dir
    from classifier.products import measure

    path, sims = write_astronet_dir_with_lightcurves(tmp_path / "lc", n=4, with_curves=3)
    ds = load_astronet_dir(path)
    col = {name: i for i, name in enumerate(ds.feature_names)}
    assert ds.feature_names[:len(DEFAULT_SCALAR_NAMES)] == list(DEFAULT_SCALAR_NAMES)  # the site's columns
    s = sims[0]
    star = {"teff_k": s.teff_k, "logg_cgs": s.logg_cgs, "radius_rsun": s.radius_rsun, "mass_msun": s.mass_msun,
            "magnitude": s.magnitude}
    _, metrics = measure(s.time_bkjd, s.flux, s.flux_err, s.quality, period_days=s.period_days, epoch=s.epoch_bkjd,
                         duration_hours=s.duration_hours, star=star, catalog={"depth_ppm": s.depth_ppm, "snr": s.snr})
    for name in LIGHTCURVE_SCALAR_NAMES:
        assert ds.X[0, col[name]] == pytest.approx(metrics[name[3:]], rel=1e-6, nan_ok=True)
    assert np.isfinite(ds.X[:3, col["lc_depth_ppm"]]).all() and np.isfinite(ds.X[:3, col["lc_odd_even_sigma"]]).all()
    assert np.isnan(ds.X[3, [col[n] for n in LIGHTCURVE_SCALAR_NAMES]]).all()  # views only: no lc_ metric
    # views only (no lightcurves/ folder): the same columns, lc_ all NaN
    import shutil

    shutil.rmtree(path / "lightcurves")
    views_only = load_astronet_dir(path)
    assert views_only.feature_names == ds.feature_names
    assert np.isnan(views_only.X[:, [col[n] for n in LIGHTCURVE_SCALAR_NAMES]]).all()
    lv = [col[n] for n in ds.feature_names if n.startswith(("lv_", "gv_"))]
    np.testing.assert_array_equal(views_only.X[:, lv], ds.X[:, lv])


def test_light_curve_without_ephemeris_is_a_clear_error(tmp_path, capsys):
    path, _ = write_astronet_dir_with_lightcurves(tmp_path / "lc", n=2)
    table = pd.read_csv(path / "candidates.csv").drop(columns=["epoch_btjd"])
    table.to_csv(path / "candidates.csv", index=False)
    assert main(["evaluate", "--train", str(path), "--test", str(path), "--out", str(tmp_path / "o")]) == 2
    assert "epoch_btjd" in capsys.readouterr().err
