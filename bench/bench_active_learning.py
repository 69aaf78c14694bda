"""Benchmark: label efficiency of active learning on Astronet-Triage (pool = train, test = val).

For several seeds, runs the same simulation as ``python -m classifier simulate`` with the
site's default strategy mix (``classifier.active.DEFAULT_MIX``, which ``VETTING_QUERY_MIX`` equals;
with diversity; ``--mix`` to try another) and
with random sampling, then reports how many labels each needs to reach the planet-vs-rest AP of
the same (fast-profile) model trained on the whole pool. Writes the learning curves to
``bench-out/active_learning.png`` and the rounds to ``bench-out/active_learning.csv``.

Per-round fits use the ``fast`` profile (boosting + extra trees + logistic, calibrated).

    python bench/bench_active_learning.py [--quick] [--seeds 3] [--budget 2000] [--random-budget 4000] [--batch 50]

Random sampling runs to ``--random-budget`` (by default 3x the 10 %-of-pool mark and more), so
the bench can tell whether random needs at least 3x the labels of the default strategy.
"""
from __future__ import annotations

import csv
import json
import os
import sys
from pathlib import Path

import numpy as np
from _common import REPO, Stopwatch, astronet_dir, astronet_splits, bench_parser

from classifier.active import DEFAULT_MIX
from classifier.cli import simulate
from classifier.evaluation import classification_metrics
from classifier.training import VettingEnsemble, score


def labels_to_reach(rows: list[dict], target: float) -> int | None:
    """First n_labels whose planet AP reaches ``target`` (None if never within the budget)."""
    for r in rows:
        if r["planet_ap"] is not None and r["planet_ap"] >= target:
            return r["n_labels"]
    return None


def main() -> int:
    parser = bench_parser(__doc__, quick="1 seed, budget 600, batch 50")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--initial", type=int, default=200)
    parser.add_argument("--batch", type=int, default=50,
                        help="labels per round: the site retrains every 50 (VETTING_RETRAIN_EVERY_N_LABELS)")
    parser.add_argument("--budget", type=int, default=2000, help="labels for the default strategy")
    parser.add_argument("--random-budget", type=int, default=4000, help="labels for random sampling")
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--out", default=str(REPO / "bench-out"))
    parser.add_argument("--mix", default=None,
                        help='strategy mix of "default" as JSON, '
                             'e.g. \'{"planet": 0.5, "committee": 0.3, "random": 0.2}\' '
                             "(default: classifier.active.DEFAULT_MIX, the site's VETTING_QUERY_MIX)")
    args = parser.parse_args()
    src = astronet_dir()
    if src is None:
        return 0
    seeds = 1 if args.quick else args.seeds
    mix = json.loads(args.mix) if args.mix else dict(DEFAULT_MIX)
    print(f"default strategy mix: {mix} (with diversity)")
    budgets = {"default": 600, "random": 600} if args.quick else {"default": args.budget, "random": args.random_budget}
    pool, test = astronet_splits(src, "train", "val")
    pool = pool.subset(pool.labeled_mask)
    with Stopwatch() as sw:
        full = VettingEnsemble(profile="fast", random_state=0, n_jobs=args.n_jobs).fit(pool.X, pool.y, pool.groups)
        s = score(full, test.X)
    full_ap = classification_metrics(test.y, s.proba, s.classes)["planet_ap"]
    print(f"pool {len(pool.y)} labeled TCEs, test {len(test.y)}; fast model on the whole pool: planet AP {full_ap:.3f} "
          f"(fit {sw.wall:.0f} s)")
    ten_pct = int(0.1 * len(pool.y))
    all_rows = []
    reach = {"default": [], "random": []}
    for seed in range(seeds):
        for strategy in ("default", "random"):
            sw = Stopwatch()
            budget = budgets[strategy]
            rows = simulate(pool, test, strategy=strategy, initial=args.initial, batch=args.batch, budget=budget,
                            seed=seed, profile="fast", n_jobs=args.n_jobs, mix=mix)
            all_rows.extend(rows)
            n = labels_to_reach(rows, full_ap)
            n95 = labels_to_reach(rows, 0.95 * full_ap)
            reach[strategy].append(n)
            curve = " ".join(f"{r['n_labels']}:{r['planet_ap']:.2f}" for r in rows[:: max(1, len(rows) // 8)])
            last = rows[-1]
            print(f"seed {seed} {strategy:<8} labels to reach full-pool AP: {n or f'>{budget}'}; "
                  f"to 95%: {n95 or f'>{budget}'}; "
                  f"final AP {last['planet_ap']:.3f} triage AP {last['triage_ap']:.3f} ECE {last['ece']:.4f} "
                  f"({sw.wall:.0f} s)  [{curve}]", flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "active_learning.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(all_rows[0]))
        w.writeheader()
        w.writerows(all_rows)
    for strategy, values in reach.items():
        reached = [v for v in values if v is not None]
        print(f"{strategy:<8}: reached full-pool AP in {len(reached)}/{len(values)} seeds; labels "
              f"{values} (10% of pool = {ten_pct}); median {np.median(reached) if reached else 'n/a'}")
    for seed, (d, r) in enumerate(zip(reach["default"], reach["random"])):
        if d is None:
            print(f"seed {seed}: no ratio: default did not reach the full-pool AP within its budget")
            continue
        if r is None:
            ratio = f"> {budgets['random'] / d:.1f}x (random did not reach it within {budgets['random']})"
        else:
            ratio = f"{r / d:.1f}x"
        print(f"seed {seed}: random needs {ratio} the labels of default")
    print("target: default reaches full-pool AP with <= 10% of the pool; random needs >= 3x more")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(7, 4.5))
        colors = {"default": "tab:blue", "random": "tab:orange"}
        for strategy in ("default", "random"):
            for seed in range(seeds):
                rows = [r for r in all_rows if r["strategy"] == strategy and r["seed"] == seed]
                ax.plot([r["n_labels"] for r in rows], [r["planet_ap"] for r in rows], color=colors[strategy],
                        alpha=0.7, label=strategy if seed == 0 else None)
        ax.axhline(full_ap, color="k", ls="--", label=f"whole pool ({len(pool.y)} labels)")
        ax.axvline(ten_pct, color="grey", ls=":", label="10% of pool")
        ax.set_xlabel("labels")
        ax.set_ylabel("planet-vs-rest AP (val split)")
        ax.set_title("Active learning on Astronet-Triage")
        ax.legend()
        fig.tight_layout()
        fig.savefig(out / "active_learning.png", dpi=120)
        print(f"wrote {out / 'active_learning.png'} and {out / 'active_learning.csv'}")
    except ImportError:
        print("matplotlib not installed: no plot")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    sys.exit(main())
