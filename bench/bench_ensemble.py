"""Benchmark: is the ensemble honest? Against the plain average of its members, on held-out rows.

Data: the demo's simulated candidates (``make run``: 2,000, seed 42; loaded into a throwaway
PostgreSQL database and featurised by the site's own code) and, when the shared data is there,
the Astronet-Triage TESS split (``--tess-train`` rows of the train split -> the val split).

For each of ``--seeds`` random draws of ``--labels`` labeled rows (300: a team's first few
hundred labels) the fast-profile ensemble is fitted; on every other row it is scored against

* the plain average of its calibrated members (the yardstick: never worse, issue 14),
* the best single member (chosen on the held-out rows, so an optimistic reference),
* stacking alone, the ensemble's old fixed choice with >= 15 labels per class (the baseline),

by accuracy, planet AP, log loss and top-label ECE. Also printed: the combination the
cross-validation chose and the ECE the site reports (from the out-of-fold probabilities).
Targets: ensemble accuracy and log loss not worse than the average's; ECE <= 0.05 at 300 labels
on the demo.

    python bench/bench_ensemble.py [--quick] [--labels 300] [--seeds 3] [--no-tess]
"""
from __future__ import annotations

import os
import sys

import numpy as np
from _common import astronet_dir, astronet_splits, bench_parser, django_database

from classifier.evaluation import classification_metrics
from classifier.training import VettingEnsemble


def demo_matrix(n: int):
    """(X, y, groups) of the demo's candidates, truth as labels (throwaway database)."""
    from vetting.candidates.importers.demo import load_demo
    from vetting.candidates.models import Candidate
    from vetting.learning.featurize import build_matrix

    load_demo(n=n, seed=42, workers=2)
    m = build_matrix(list(Candidate.objects.order_by("pk").values_list("pk", flat=True)))
    truth = dict(Candidate.objects.values_list("pk", "simulated_truth"))
    return m.X.astype(np.float64), np.array([truth[i] for i in m.candidate_ids.tolist()], dtype=object), m.groups


def figures(y, P, classes) -> dict:
    m = classification_metrics(y, P, classes)
    return {k: m[k] for k in ("accuracy", "planet_ap", "log_loss", "ece")}


def evaluate(name, X, y, g, n_labels, seeds, n_jobs) -> dict:
    sums: dict[str, list] = {"ensemble": [], "average": [], "best member": [], "stacking": []}
    oof_ece, old_oof_ece, chosen, ok_acc, ok_ll = [], [], [], 0, 0
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        idx = rng.permutation(len(y))
        tr, te = idx[:n_labels], idx[n_labels:]
        model = VettingEnsemble(profile="fast", random_state=seed, n_calibration_folds=3, n_jobs=n_jobs)
        model.fit(X[tr], y[tr], g[tr])
        fam = model.family_proba(X[te])
        classes = list(model.classes_)
        ens = figures(y[te], model.combine_proba(fam), classes)
        avg = figures(y[te], np.mean(list(fam.values()), axis=0), classes)
        members = {k: figures(y[te], p, classes) for k, p in fam.items()}
        best = max(members.values(), key=lambda f: f["accuracy"])
        sums["ensemble"].append(ens)
        sums["average"].append(avg)
        sums["best member"].append(best)
        # Baseline: stacking, what the ensemble always did with >= 15 labels per class before
        # the combination was chosen by cross-validation.
        stack = VettingEnsemble(profile="fast", random_state=seed, n_calibration_folds=3, n_jobs=n_jobs,
                                combine="stack").fit(X[tr], y[tr], g[tr])
        sums["stacking"].append(figures(y[te], stack.predict_proba(X[te]), list(stack.classes_)))
        old_oof_ece.append(classification_metrics(y[tr], stack.oof_proba_, list(stack.classes_))["ece"])
        oof_ece.append(classification_metrics(y[tr], model.oof_proba_, classes)["ece"])
        chosen.append(model.combine_)
        ok_acc += ens["accuracy"] >= avg["accuracy"]
        ok_ll += ens["log_loss"] <= avg["log_loss"]
    print(f"\n== {name}: {n_labels} labels, {len(y) - n_labels} held-out rows, {seeds} seeds; "
          f"combination chosen: {', '.join(chosen)}")
    print(f"  {'':<12} {'accuracy':>9} {'planet AP':>10} {'log loss':>9} {'ECE':>7}")
    for label, rows in sums.items():
        mean = {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
        print(f"  {label:<12} {mean['accuracy']:9.3f} {mean['planet_ap']:10.3f} {mean['log_loss']:9.3f} "
              f"{mean['ece']:7.3f}")
    print(f"  ensemble >= average: accuracy in {ok_acc}/{seeds} seeds, log loss in {ok_ll}/{seeds}; "
          f"ECE reported by the site (out of fold) {np.mean(oof_ece):.3f} (seeds: "
          f"{', '.join(f'{v:.3f}' for v in oof_ece)}); stacking's (the old choice) {np.mean(old_oof_ece):.3f}")
    return {"held_out_ece": float(np.mean([r['ece'] for r in sums['ensemble']])), "oof_ece": float(np.mean(oof_ece))}


def main() -> int:
    parser = bench_parser(__doc__, quick="500 demo candidates, 1 seed, 1,500 TESS rows")
    parser.add_argument("--labels", type=int, default=300)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--candidates", type=int, default=2000)
    parser.add_argument("--tess-train", type=int, default=3000)
    parser.add_argument("--no-tess", action="store_true")
    parser.add_argument("--n-jobs", type=int, default=1)
    args = parser.parse_args()
    if args.quick:
        args.candidates, args.seeds, args.tess_train = 500, 1, 1500
    with django_database(f"bench_ensemble_{os.getpid()}", media=True):
        X, y, g = demo_matrix(args.candidates)
    demo = evaluate(f"demo ({args.candidates} simulated candidates)", X, y, g, args.labels, args.seeds, args.n_jobs)
    print(f"  demo target: ECE <= 0.05 at {args.labels} labels: held-out {demo['held_out_ece']:.3f}, "
          f"reported {demo['oof_ece']:.3f}")
    src = None if args.no_tess else astronet_dir()
    if src is not None:
        train, val = astronet_splits(src, "train", "val")
        train = train.subset(train.labeled_mask)
        rng = np.random.default_rng(0)
        keep = np.sort(rng.choice(len(train.y), size=min(args.tess_train, len(train.y)), replace=False))
        Xt = np.vstack([train.X[keep], val.X])
        yt = np.concatenate([train.y[keep], val.y])
        gt = np.concatenate([np.asarray(train.groups)[keep].astype(str), np.asarray(val.groups).astype(str)])
        evaluate(f"TESS Astronet-Triage ({len(keep)} train + {len(val.y)} val rows, labels drawn from both)",
                 Xt, yt, gt, args.labels, args.seeds, args.n_jobs)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    sys.exit(main())
