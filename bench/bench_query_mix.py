"""Benchmark: which query-strategy mix, chosen on data apart from the data it is judged on.

Astronet-Triage (TESS). The mix is **chosen** on the published train split alone: its stars are
split in two halves, one the pool and the other the test set; each candidate mix runs the
active-learning simulation (``classifier.cli.simulate``, as ``python -m classifier simulate``)
on ``--choose-seeds`` seeds, and the mix needing the fewest labels to reach the planet AP of the
model trained on the whole half-pool wins (ties: the larger mean AP over the rounds).
Every mix is then **reported** on data none was chosen on: pool = the whole train split,
test = the validation split, other seeds (``--report-seeds``), against random sampling.

Prints, per mix and phase, the labels needed to reach the whole-pool planet AP (and as a share
of the pool), the mean planet AP over the rounds, and the random-sampling ratio. Targets
(issue 14): the site's default mix reaches the whole-pool AP with <= 10 % of the pool; random
needs >= 3x as many labels.

    python bench/bench_query_mix.py [--quick] [--choose-seeds 2] [--report-seeds 2] [--mixes JSON]
"""
from __future__ import annotations

import json
import os
import sys

import numpy as np
from _common import Stopwatch, astronet_dir, astronet_splits, bench_parser
from bench_active_learning import labels_to_reach

from classifier.active import DEFAULT_MIX
from classifier.cli import simulate
from classifier.evaluation import classification_metrics
from classifier.training import VettingEnsemble, score

#: Mixes compared (names for the printout). The site's DEFAULT_MIX is always among them.
MIXES: dict[str, dict[str, float]] = {
    "confirm-heavy (old default)": {"likely_planet": 0.6, "planet": 0.2, "committee": 0.1, "random": 0.1},
    "balanced": {"likely_planet": 0.3, "planet": 0.4, "committee": 0.2, "random": 0.1},
    "uncertainty-led": {"likely_planet": 0.1, "planet": 0.5, "committee": 0.3, "random": 0.1},
}


def halves_by_star(ds, seed: int):
    """Split a Dataset in two halves by star (no star in both)."""
    stars = np.unique(ds.groups)
    rng = np.random.default_rng(seed)
    a = set(rng.permutation(stars)[: len(stars) // 2].tolist())
    mask = np.array([g in a for g in ds.groups.tolist()])
    return ds.subset(mask), ds.subset(~mask)


def whole_pool_ap(pool, test, n_jobs: int) -> float:
    model = VettingEnsemble(profile="fast", random_state=0, n_jobs=n_jobs).fit(pool.X, pool.y, pool.groups)
    s = score(model, test.X)
    return classification_metrics(test.y, s.proba, s.classes)["planet_ap"]


def run_mix(pool, test, mix, seeds, budget, args, target):
    """Labels to reach ``target`` per seed (None: not within budget) and the mean AP over rounds."""
    reach, areas = [], []
    for seed in seeds:
        rows = simulate(pool, test, strategy="default" if mix else "random", initial=args.initial, batch=args.batch,
                        budget=budget, seed=seed, profile="fast", n_jobs=args.n_jobs, mix=mix)
        reach.append(labels_to_reach(rows, target))
        areas.append(float(np.mean([r["planet_ap"] for r in rows])))
    return reach, areas


def describe(reach, pool_n, budget) -> str:
    parts = [f"{n} ({100 * n / pool_n:.1f}%)" if n else f">{budget}" for n in reach]
    return ", ".join(parts)


def main() -> int:
    parser = bench_parser(__doc__, quick="1 seed per phase, budgets 600, two mixes")
    parser.add_argument("--choose-seeds", type=int, default=2)
    parser.add_argument("--report-seeds", type=int, default=2)
    parser.add_argument("--initial", type=int, default=200)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--budget", type=int, default=1400, help="labels per mix in both phases")
    parser.add_argument("--random-budget", type=int, default=4000)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--mixes", default=None, help="JSON {name: mix} replacing the built-in list")
    args = parser.parse_args()
    src = astronet_dir()
    if src is None:
        return 0
    mixes = json.loads(args.mixes) if args.mixes else dict(MIXES)
    if DEFAULT_MIX not in mixes.values():
        mixes["site default"] = dict(DEFAULT_MIX)
    if args.quick:
        args.choose_seeds = args.report_seeds = 1
        args.budget = args.random_budget = 600
        mixes = dict(list(mixes.items())[:2])
    train, val = astronet_splits(src, "train", "val")
    train = train.subset(train.labeled_mask)

    # Phase 1: choose on the train split only (half pool, half test).
    pool_a, test_b = halves_by_star(train, seed=1234)
    with Stopwatch() as sw:
        target_a = whole_pool_ap(pool_a, test_b, args.n_jobs)
    print(f"CHOOSE on train halves: pool {len(pool_a.y)}, test {len(test_b.y)}; whole-pool planet AP "
          f"{target_a:.3f} ({sw.wall:.0f} s)", flush=True)
    chosen, best_key = None, None
    for name, mix in mixes.items():
        with Stopwatch() as sw:
            reach, areas = run_mix(pool_a, test_b, mix, range(args.choose_seeds), args.budget, args, target_a)
        penalised = [n if n else args.budget + args.batch for n in reach]
        key = (float(np.mean(penalised)), -float(np.mean(areas)))
        print(f"  {name:<28} labels to reach: {describe(reach, len(pool_a.y), args.budget)}; "
              f"mean AP over rounds {np.mean(areas):.3f} ({sw.wall:.0f} s)", flush=True)
        if best_key is None or key < best_key:
            chosen, best_key = name, key
    print(f"chosen on the train split: {chosen} {mixes[chosen]}", flush=True)

    # Phase 2: report on the validation split (test), pool = whole train split, new seeds.
    with Stopwatch() as sw:
        target = whole_pool_ap(train, val, args.n_jobs)
    ten = int(0.1 * len(train.y))
    seeds = range(100, 100 + args.report_seeds)
    print(f"REPORT pool = train ({len(train.y)}), test = val ({len(val.y)}); whole-pool planet AP {target:.3f}; "
          f"10% of the pool = {ten} labels ({sw.wall:.0f} s)", flush=True)
    results = {}
    for name, mix in list(mixes.items()) + [("random", None)]:
        budget = args.random_budget if mix is None else args.budget
        with Stopwatch() as sw:
            reach, areas = run_mix(train, val, mix, seeds, budget, args, target)
        results[name] = reach
        print(f"  {name:<28} labels to reach: {describe(reach, len(train.y), budget)}; "
              f"mean AP over rounds {np.mean(areas):.3f} ({sw.wall:.0f} s)", flush=True)
    for name in mixes:
        ratios = []
        for d, r in zip(results[name], results["random"]):
            ratios.append("n/a" if d is None else (f">{args.random_budget / d:.1f}x" if r is None else f"{r / d:.1f}x"))
        ok = all(d is not None and d <= ten for d in results[name])
        print(f"{name:<28} <= 10% of pool in every seed: {'yes' if ok else 'no'}; random needs {', '.join(ratios)}")
    print("target: the site default reaches the whole-pool AP with <= 10% of the pool; random needs >= 3x")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    sys.exit(main())
