"""Benchmark: Kepler DR24 TCE table (PC vs AFP vs NTP), cross-validation grouped by kepid.

Tabular features only (period, duration, depth, SNR, impact, stellar parameters, radius).
Prints planet-vs-rest and triage (PC+AFP vs NTP) AUC and AP of the calibrated ensemble and, in
the same run and on the same folds, of an SNR-only baseline (logistic regression on log SNR)
and a single histogram-gradient-boosting model.

    python bench/bench_dr24.py [--quick] [--folds 5] [--profile full|fast] [--n-jobs 2]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from classifier.dataset import load_archive_table  # noqa: E402
from classifier.evaluation import grouped_splits, vetting_metrics  # noqa: E402
from classifier.training import cross_val_proba  # noqa: E402
from classifier.vocabulary import CLASS_CODES  # noqa: E402


def shared_data() -> Path:
    return Path(os.environ.get("VETTING_SHARED_DATA", REPO.parent / "shared" / "data"))


def line(name: str, m: dict) -> str:
    rec = " ".join(f"{c}={v:.3f}" for c, v in m["recall"].items() if v is not None)
    return (f"{name:<28} planet AUC {m['planet_auc']:.4f} AP {m['planet_ap']:.4f} | "
            f"triage AUC {m['triage_auc']:.4f} AP {m['triage_ap']:.4f} | ECE {m['ece']:.4f} | recall {rec}")


def oof_simple(make, X, y, splits, classes):
    oof = np.zeros((len(y), len(classes)))
    for tr, te in splits:
        model = make().fit(X[tr], y[tr])
        cols = [classes.index(c) for c in model.classes_]
        oof[np.ix_(te, cols)] = model.predict_proba(X[te])
    return oof


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: 3000 TCEs, 3 folds, fast profile")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--profile", default=None, choices=["full", "fast"])
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    path = shared_data() / "kepler" / "dr24_tce_autovetter.csv"
    if not path.exists():
        print(f"SKIP bench_dr24: {path} not found (set VETTING_SHARED_DATA)")
        return 0
    profile = args.profile or ("fast" if args.quick else "full")
    folds = 3 if args.quick else args.folds
    ds = load_archive_table(path)
    ds = ds.subset(ds.labeled_mask)  # UNK rows are unlabeled
    if args.quick:
        ds = ds.subset(np.sort(np.random.default_rng(args.seed).permutation(len(ds.y))[:3000]))
    keep = np.isfinite(ds.X).any(axis=0)  # views are absent for archive tables
    X, y, groups = ds.X[:, keep], ds.y, ds.groups
    names = [n for n, k in zip(ds.feature_names, keep) if k]
    classes = [c for c in CLASS_CODES if c in set(y.tolist())]
    print(f"DR24 TCEs labeled: {len(y)} ({ {c: int((y == c).sum()) for c in classes} }; AFP->EB, NTP->J), "
          f"{len(set(groups))} stars, {len(names)} tabular features, {folds}-fold StratifiedGroupKFold by kepid")
    splits = grouped_splits(y, groups, n_splits=folds, random_state=args.seed)

    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    snr = [names.index("log_snr")]
    oof = oof_simple(lambda: make_pipeline(SimpleImputer(strategy="median"), LogisticRegression(max_iter=1000)),
                     X[:, snr], y, splits, classes)
    print(line("baseline SNR-only logistic", vetting_metrics(y, oof, classes)))
    oof = oof_simple(lambda: HistGradientBoostingClassifier(random_state=args.seed), X, y, splits, classes)
    print(line("single HGB (uncalibrated)", vetting_metrics(y, oof, classes)))
    t0 = time.perf_counter()
    oof, cls, _ = cross_val_proba(X, y, groups, n_splits=folds, seed=args.seed, profile=profile, n_jobs=args.n_jobs)
    elapsed = time.perf_counter() - t0
    print(line(f"calibrated ensemble ({profile})", vetting_metrics(y, oof, cls)))
    print(f"ensemble cross-validation time {elapsed:.0f} s for {folds} folds (load {os.getloadavg()[0]:.1f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
