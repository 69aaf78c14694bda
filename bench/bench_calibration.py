"""Benchmark: calibration at small label sets, the old calibration choice against the new one.

The ensemble's calibration is its second level (:mod:`classifier.training`): one calibrator per
model family on out-of-fold probabilities, then a combination of the calibrated families chosen
by out-of-fold log loss (:mod:`classifier.combination`: mean, tempered, stack, shrunk). **old**
(``calibration="by_count"``): each family's calibrator is a multinomial sigmoid below 40 labels
per class, else isotonic. **new** (the site's ``calibration="auto"``): the calibrator is chosen by
cross-validation, jointly with the combination, among that one, one temperature per family and
per-class scale and bias per family (:mod:`classifier.calibration`). Which map and combination
each fit uses is decided inside its own labels by cross-validation, never on held-out rows.

For 100, 300 and 1,000 labels (``--labels``) and ``--seeds`` random draws, both are fitted
(fast profile) and scored on held-out rows:

* demo: the site's simulated candidates (``make run``: 2,000, seed 42, loaded into a throwaway
  database and featurised by the site's code, as in bench/bench_ensemble.py); labels drawn from
  a star-disjoint 60 % part, the other 40 % held out;
* TESS: labels drawn from the Astronet-Triage train split, the validation split held out.

Prints per label count the held-out top-label ECE and log loss of old and new, the ECE the
site reports (out of fold), the calibration/combination chosen, and the log loss of the plain
average of the members. Target (issue 14): ECE <= 0.05 at 300 labels on the demo.

    python bench/bench_calibration.py [--quick] [--seeds 3] [--labels 100,300,1000] [--no-tess]
        [--demo-cache bench-out/demo_matrix.npz]
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
from _common import astronet_dir, astronet_splits, bench_parser, django_database

from classifier.evaluation import classification_metrics
from classifier.training import VettingEnsemble

#: The calibration maps each variant chooses from by cross-validation (combinations: all, ``auto``).
VARIANTS = {"old": "by_count", "new": "auto"}


def demo_data(n: int, cache: str | None):
    """(X, y, groups) of the demo candidates; from ``cache`` (npz) when it exists, else built in a
    throwaway database (and written to ``cache`` if given)."""
    if cache and Path(cache).exists():
        d = np.load(cache, allow_pickle=False)
        if len(d["y"]) == n:
            return d["X"], d["y"].astype(object), d["g"]
    from bench_ensemble import demo_matrix

    with django_database(f"bench_calibration_{os.getpid()}", media=True):
        X, y, g = demo_matrix(n)
    g = np.asarray(g).astype(str)
    if cache:
        Path(cache).parent.mkdir(parents=True, exist_ok=True)
        np.savez(cache, X=X, y=y.astype(str), g=g)
    return X, y, g


def star_split(groups, share: float, seed: int) -> np.ndarray:
    """Mask of the rows whose star falls in a random ``share`` of the stars."""
    stars = np.unique(groups)
    picked = set(np.random.default_rng(seed).permutation(stars)[: int(share * len(stars))].tolist())
    return np.array([s in picked for s in np.asarray(groups).tolist()])


def compare(name, X, y, g, Xte, yte, label_counts, seeds, n_jobs) -> dict:
    print(f"\n== {name}: label pool {len(y)}, held out {len(yte)}; {seeds} seeds")
    print(f"  {'labels':>6} {'variant':<4} {'ECE held-out':>12} {'log loss':>9} {'ECE OOF':>8} "
          f"{'avg log loss':>12}  chosen")
    out = {}
    for n in label_counts:
        if n > len(y):
            continue
        for variant, calibration in VARIANTS.items():
            ece, ll, oof, avg, chosen = [], [], [], [], []
            for seed in range(seeds):
                idx = np.random.default_rng(seed).permutation(len(y))[:n]
                model = VettingEnsemble(profile="fast", random_state=seed, calibration=calibration,
                                        n_jobs=n_jobs)
                model.fit(X[idx], y[idx], g[idx])
                classes = list(model.classes_)
                keep = np.isin(yte, classes)  # a class absent from the labels cannot be predicted
                fam = model.family_proba(Xte[keep])
                m = classification_metrics(yte[keep], model.combine_proba(fam), classes)
                a = classification_metrics(yte[keep], np.mean(list(fam.values()), axis=0), classes)
                ece.append(m["ece"])
                ll.append(m["log_loss"])
                avg.append(a["log_loss"])
                oof.append(classification_metrics(y[idx], model.oof_proba_, classes)["ece"])
                chosen.append(f"{model.calibration_method_}/{model.combine_}")
            out[(n, variant)] = float(np.mean(ece))
            print(f"  {n:>6} {variant:<4} {np.mean(ece):12.3f} {np.mean(ll):9.3f} {np.mean(oof):8.3f} "
                  f"{np.mean(avg):12.3f}  {', '.join(chosen)}  (ECE per seed {', '.join(f'{v:.3f}' for v in ece)})",
                  flush=True)
    return out


def main() -> int:
    parser = bench_parser(__doc__, quick="500 demo candidates, 1 seed, 300 labels")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--labels", default="100,300,1000")
    parser.add_argument("--candidates", type=int, default=2000)
    parser.add_argument("--demo-cache", default=None, help="npz file to reuse the featurised demo candidates")
    parser.add_argument("--no-tess", action="store_true")
    parser.add_argument("--n-jobs", type=int, default=1)
    args = parser.parse_args()
    counts = [int(v) for v in args.labels.split(",")]
    if args.quick:
        args.candidates, args.seeds, counts = 500, 1, [300]
    X, y, g = demo_data(args.candidates, args.demo_cache)
    pool = star_split(g, 0.6, seed=42)
    demo = compare(f"demo ({args.candidates} simulated candidates, star-disjoint 60/40)", X[pool], y[pool], g[pool],
                   X[~pool], y[~pool], counts, args.seeds, args.n_jobs)
    if (300, "new") in demo:
        print(f"  demo target: ECE <= 0.05 at 300 labels: old {demo[(300, 'old')]:.3f}, new {demo[(300, 'new')]:.3f}")
    src = None if args.no_tess else astronet_dir()
    if src is not None:
        train, val = astronet_splits(src, "train", "val")
        train = train.subset(train.labeled_mask)
        compare("TESS Astronet-Triage (labels from train, held out: val)", train.X, train.y,
                np.asarray(train.groups).astype(str), val.X, val.y, counts, args.seeds, args.n_jobs)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    sys.exit(main())
