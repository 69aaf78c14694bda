"""Benchmark: Kepler DR24 TCE table (PC vs AFP vs NTP), cross-validation grouped by kepid.

Tabular features only (period, duration, depth, SNR, impact, stellar parameters, radius).
Prints planet-vs-rest and triage (PC+AFP vs NTP) AUC and AP of the calibrated ensemble and, in
the same run and on the same folds, of an SNR-only baseline (logistic regression on log SNR)
and a single histogram-gradient-boosting model.

    python bench/bench_dr24.py [--quick] [--folds 5] [--profile full|fast] [--n-jobs 2]
"""
from __future__ import annotations

import os
import sys

import numpy as np
from _common import Stopwatch, add_model_options, bench_parser, metrics_line, model_profile, require_data, shared_data

from classifier.evaluation import classification_metrics, grouped_splits
from classifier.loaders import load_archive_table
from classifier.training import cross_val_proba
from classifier.vocabulary import CLASS_CODES


def oof_simple(make, X, y, splits, classes):
    oof = np.zeros((len(y), len(classes)))
    for tr, te in splits:
        model = make().fit(X[tr], y[tr])
        cols = [classes.index(c) for c in model.classes_]
        oof[np.ix_(te, cols)] = model.predict_proba(X[te])
    return oof


def main() -> int:
    parser = bench_parser(__doc__, quick="3000 TCEs, 3 folds, fast profile")
    parser.add_argument("--folds", type=int, default=5)
    add_model_options(parser)
    args = parser.parse_args()
    path = shared_data() / "kepler" / "dr24_tce_autovetter.csv"
    if not require_data(path, "the DR24 TCE table"):
        return 0
    profile = model_profile(args)
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
    print(metrics_line("baseline SNR-only logistic", classification_metrics(y, oof, classes)))
    oof = oof_simple(lambda: HistGradientBoostingClassifier(random_state=args.seed), X, y, splits, classes)
    print(metrics_line("single HGB (uncalibrated)", classification_metrics(y, oof, classes)))
    with Stopwatch() as sw:
        oof, cls, _ = cross_val_proba(X, y, groups, n_splits=folds, seed=args.seed, profile=profile, n_jobs=args.n_jobs)
    print(metrics_line(f"calibrated ensemble ({profile})", classification_metrics(y, oof, cls)))
    print(f"ensemble cross-validation time {sw.wall:.0f} s for {folds} folds (load {os.getloadavg()[0]:.1f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
