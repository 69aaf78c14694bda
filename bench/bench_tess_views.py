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

import os
import sys

import numpy as np
import pandas as pd
from _common import (
    Stopwatch,
    add_model_options,
    astronet_dir,
    astronet_splits,
    bench_parser,
    metrics_line,
    model_profile,
)

from classifier.evaluation import classification_metrics
from classifier.training import VettingEnsemble, score


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
    return classification_metrics(val.y, proba, classes)


def main() -> int:
    parser = bench_parser(__doc__, quick="3000 training rows, fast profile")
    add_model_options(parser)
    args = parser.parse_args()
    src = astronet_dir()
    if src is None:
        return 0
    profile = model_profile(args)
    train, val = astronet_splits(src, "train", "val")
    if args.quick:
        keep = np.random.default_rng(args.seed).permutation(len(train.y))[:3000]
        train = train.subset(np.sort(keep))
    counts = pd.Series(train.y).value_counts().to_dict()
    print(f"Astronet-Triage: train {len(train.y)} {counts}, "
          f"val {len(val.y)} {pd.Series(val.y).value_counts().to_dict()}")
    print(f"features: {train.X.shape[1]}; profile {profile}; n_jobs {args.n_jobs}; seed {args.seed}")
    print()
    print(metrics_line("baseline logistic(catalog SNR)", logistic_baseline(train, val, ["log_snr"])))
    views = [c for c in train.feature_names if c.startswith(("gv_", "lv_")) and c[3:].isdigit()]
    print(metrics_line("baseline logistic(views only)", logistic_baseline(train, val, views)))

    with Stopwatch() as fit:
        model = VettingEnsemble(profile=profile, random_state=args.seed, n_jobs=args.n_jobs).fit(
            train.X, train.y, train.groups)
    with Stopwatch() as scoring:
        s = score(model, val.X)
    for name, p in s.family_proba.items():
        print(metrics_line(f"family {name} (calibrated)", classification_metrics(val.y, p, s.classes)))
    print()
    metrics = classification_metrics(val.y, s.proba, s.classes)
    print(f"ENSEMBLE ({model.combine_}, {model.calibration_method_}, {model.n_calibration_folds_} folds, "
          f"families {list(model.families_)}, dropped {list(model.dropped_families_)})")
    print(metrics_line("ensemble", metrics))
    # Families are fitted single-threaded in parallel processes; their CPU seconds estimate the
    # wall time on idle cores (on a shared machine the wall time mostly measures other tenants).
    cpu = model.family_cpu_seconds_
    per = ", ".join(f"{k} {v:.1f}" for k, v in cpu.items())
    idle = _critical_path(list(cpu.values()), args.n_jobs) + fit.cpu
    print(f"fit time {fit.wall:.1f} s wall (machine load {os.getloadavg()[0]:.1f}); family CPU seconds: {per}; "
          f"total {sum(cpu.values()) + fit.cpu:.1f} CPU s, ~{idle:.1f} s on {args.n_jobs} idle cores; "
          f"scoring {len(val.y)} candidates {scoring.wall:.2f} s")
    print("targets: planet AP > 0.693 (Yu et al. 2019 test split), aim 0.80; triage AP >= 0.985; ECE <= 0.02; "
          "fit < 60 s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
