"""Benchmark: Astronet-Triage (TESS) train split -> val split with the calibrated ensemble.

Prints planet-vs-rest AP, triage AP, top-label ECE, per-class recall and fit time of the full
ensemble, of each model family inside it, and of two baselines fitted in the same run
(logistic regression on the catalog SNR only, and on the views only).

    python bench/bench_tess_views.py [--quick] [--n-jobs 2] [--profile full|fast]

Reads the shared data from ``VETTING_SHARED_DATA`` (default ``<repo>/../shared/data``); the
train/val subsets are written to a temporary Astronet-layout directory each, exactly as the
command line reads them.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from classifier.dataset import load_astronet_dir  # noqa: E402
from classifier.evaluation import vetting_metrics  # noqa: E402
from classifier.training import VettingEnsemble, score  # noqa: E402


def shared_data() -> Path:
    return Path(os.environ.get("VETTING_SHARED_DATA", REPO.parent / "shared" / "data"))


def write_split_dirs(src: Path, dest: Path, column: str = "split") -> dict[str, Path]:
    """Write one Astronet-layout directory per value of ``column`` (CSV rows + matching npz)."""
    table = pd.read_csv(src / "candidates.csv")
    with np.load(src / "views.npz") as npz:
        views = {k: npz[k] for k in npz.files}
    out = {}
    for value in sorted(table[column].dropna().unique()):
        mask = (table[column] == value).to_numpy()
        d = dest / str(value)
        d.mkdir(parents=True, exist_ok=True)
        table[mask].to_csv(d / "candidates.csv", index=False)
        np.savez(d / "views.npz", **{k: v[mask] for k, v in views.items()})
        out[str(value)] = d
    return out


def fmt(metrics: dict) -> str:
    rec = " ".join(f"{c}={v:.3f}" for c, v in metrics["recall"].items() if v is not None)
    return (f"planet AP {metrics['planet_ap']:.3f}  planet AUC {metrics['planet_auc']:.3f}  "
            f"triage AP {metrics['triage_ap']:.4f}  ECE {metrics['ece']:.4f}  "
            f"ECE(p_planet) {metrics['ece_planet']:.4f}  recall {rec}")


def _critical_path(durations: list[float], workers: int) -> float:
    """Makespan of running ``durations`` in submission order on ``workers`` parallel workers."""
    free = [0.0] * max(1, workers)
    for d in durations:
        i = free.index(min(free))
        free[i] += d
    return max(free)


def logistic_baseline(train, val, columns: list[str]) -> dict:
    """Plain class-weighted logistic regression on a few columns (no calibration step)."""
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    idx = [train.feature_names.index(c) for c in columns]
    model = make_pipeline(SimpleImputer(strategy="median"), StandardScaler(),
                          LogisticRegression(max_iter=2000, C=1.0, random_state=0))
    model.fit(train.X[:, idx], train.y)
    proba = model.predict_proba(val.X[:, idx])
    classes = list(model.classes_)
    return vetting_metrics(val.y, proba, classes)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: 3000 training rows, fast profile")
    parser.add_argument("--profile", default=None, choices=["full", "fast"])
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    src = shared_data() / "tess" / "astronet_triage"
    if not (src / "candidates.csv").exists():
        print(f"SKIP bench_tess_views: Astronet-Triage data not found at {src} (set VETTING_SHARED_DATA)")
        return 0
    profile = args.profile or ("fast" if args.quick else "full")
    with tempfile.TemporaryDirectory() as tmp:
        dirs = write_split_dirs(src, Path(tmp))
        train, val = load_astronet_dir(dirs["train"]), load_astronet_dir(dirs["val"])
    if args.quick:
        keep = np.random.default_rng(args.seed).permutation(len(train.y))[:3000]
        train = train.subset(np.sort(keep))
    counts = pd.Series(train.y).value_counts().to_dict()
    print(f"Astronet-Triage: train {len(train.y)} {counts}, val {len(val.y)} {pd.Series(val.y).value_counts().to_dict()}")
    print(f"features: {train.X.shape[1]}; profile {profile}; n_jobs {args.n_jobs}; seed {args.seed}")
    print()
    print("baseline logistic(catalog SNR)   ", fmt(logistic_baseline(train, val, ["log_snr"])))
    views = [c for c in train.feature_names if c.startswith(("gv_", "lv_")) and c[3:].isdigit()]
    print("baseline logistic(views only)    ", fmt(logistic_baseline(train, val, views)))

    t0, c0 = time.perf_counter(), time.process_time()
    model = VettingEnsemble(profile=profile, random_state=args.seed, n_jobs=args.n_jobs).fit(train.X, train.y, train.groups)
    fit_s, fit_cpu = time.perf_counter() - t0, time.process_time() - c0
    t0 = time.perf_counter()
    s = score(model, val.X)
    score_s = time.perf_counter() - t0
    for name, p in s.family_proba.items():
        print(f"family {name:<12} (calibrated) ", fmt(vetting_metrics(val.y, p, s.classes)))
    print()
    metrics = vetting_metrics(val.y, s.proba, s.classes)
    print(f"ENSEMBLE ({model.combine_}, {model.calibration_method_}, {model.n_calibration_folds_} folds, "
          f"families {list(model.families_)}, dropped {list(model.dropped_families_)})")
    print("ensemble                         ", fmt(metrics))
    # Families are fitted single-threaded in parallel processes; their CPU seconds estimate the
    # wall time on idle cores (on a shared machine the wall time mostly measures other tenants).
    cpu = model.family_cpu_seconds_
    per = ", ".join(f"{k} {v:.1f}" for k, v in cpu.items())
    print(f"fit time {fit_s:.1f} s wall (machine load {os.getloadavg()[0]:.1f}); family CPU seconds: {per}; "
          f"total {sum(cpu.values()) + fit_cpu:.1f} CPU s, ~{_critical_path(list(cpu.values()), args.n_jobs) + fit_cpu:.1f} s on "
          f"{args.n_jobs} idle cores; "
          f"scoring {len(val.y)} candidates {score_s:.2f} s")
    print("targets: planet AP > 0.693 (Yu et al. 2019 test split), aim 0.80; triage AP >= 0.985; ECE <= 0.02; fit < 60 s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
