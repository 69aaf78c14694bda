"""Benchmark: which query-strategy mix, chosen on data apart from the data it is judged on.

Astronet-Triage (TESS). The mix is **chosen** on the published train split alone: its stars are
split in two halves, one the pool and the other the test set; each candidate mix runs the
active-learning simulation (``classifier.cli.simulate``, as ``python -m classifier simulate``)
on ``--choose-seeds`` seeds in rounds of ``--batch`` labels (50: the site retrains every 50), and
the mix needing the fewest labels to reach the planet AP of the
model trained on the whole half-pool wins (not reached: budget + one batch; ties: the larger
mean AP over the rounds). The chosen mix, the old confirm-heavy default and random sampling are
then **reported** on data none was chosen on: pool = the whole train split, test = the
validation split, other seeds (``--report-seeds``); ``--report-all`` reports every mix.

Prints, per mix and phase, the labels needed to reach the whole-pool planet AP (and as a share
of the pool), the share of the queried candidates the model was already sure were planets
(p_planet >= 0.9: "confirmations" a vetter sees) and the random-sampling ratio. Targets
(issue 14): the site's default mix reaches the whole-pool AP with <= 10 % of the pool; random
needs >= 3x as many labels; the queue is not mostly confirmations of sure planets.

Speed (the same measurement as a full run): every simulation stops at the round that reaches
its target AP (``simulate(stop_at=...)``; labels-to-reach is unchanged, the later rounds would
not change it), random sampling does not score the pool, and the (mix, seed) simulations run in
``--workers`` single-threaded processes, printing each as it ends. The printed seconds are wall
time on a shared machine. ``--targets A,B`` reuses the two whole-pool APs an earlier run printed
(the fits are deterministic) instead of refitting them.

    python bench/bench_query_mix.py [--quick] [--choose-seeds 2] [--report-seeds 2] [--workers 2] [--mixes JSON]
"""
from __future__ import annotations

import json
import os
import sys
import time
from concurrent.futures import as_completed

import numpy as np
from _common import Stopwatch, astronet_dir, astronet_splits, bench_parser
from bench_active_learning import labels_to_reach
from joblib.externals.loky import get_reusable_executor

from classifier.active import DEFAULT_MIX
from classifier.cli import simulate
from classifier.evaluation import classification_metrics
from classifier.training import VettingEnsemble, score

OLD_DEFAULT = {"likely_planet": 0.6, "planet": 0.2, "committee": 0.1, "random": 0.1}
#: Mixes compared (names for the printout). The site's DEFAULT_MIX is always among them.
MIXES: dict[str, dict[str, float]] = {
    "confirm-heavy (old default)": OLD_DEFAULT,
    "balanced": {"likely_planet": 0.3, "planet": 0.4, "committee": 0.2, "random": 0.1},
    "uncertainty-led": {"likely_planet": 0.1, "planet": 0.5, "committee": 0.3, "random": 0.1},
    "threshold-led": {"likely_planet": 0.2, "planet": 0.6, "committee": 0.1, "random": 0.1},
}


def halves_by_star(ds, seed: int):
    """Split a Dataset in two halves by star (no star in both)."""
    stars = np.unique(ds.groups)
    rng = np.random.default_rng(seed)
    a = set(rng.permutation(stars)[: len(stars) // 2].tolist())
    mask = np.array([g in a for g in ds.groups.tolist()])
    return ds.subset(mask), ds.subset(~mask)


def whole_pool_ap(pool, test, n_jobs: int = 1) -> float:
    """Planet AP on ``test`` of the fast model trained on the whole ``pool`` (the target)."""
    model = VettingEnsemble(profile="fast", random_state=0, n_jobs=n_jobs).fit(pool.X, pool.y, pool.groups)
    s = score(model, test.X)
    return classification_metrics(test.y, s.proba, s.classes)["planet_ap"]


def _run(pool, test, mix, seed, budget, initial, batch, target, tag="") -> dict:
    t0 = time.perf_counter()

    def log(r):
        print(f"      {tag} seed {seed}: {r['n_labels']} labels, planet AP {r['planet_ap']:.3f} "
              f"(target {target:.3f})", flush=True)

    rows = simulate(pool, test, strategy="default" if mix else "random", initial=initial, batch=batch,
                    budget=budget, seed=seed, profile="fast", n_jobs=1, mix=mix, stop_at=target,
                    log=log if tag else None)
    sure = [r["sure_planet_share"] for r in rows if r["sure_planet_share"] is not None]
    found = [r["planet_share"] for r in rows if r["planet_share"] is not None]
    return {"reach": labels_to_reach(rows, target), "rounds": len(rows), "seconds": time.perf_counter() - t0,
            "mean_ap": float(np.mean([r["planet_ap"] for r in rows])),
            "sure": float(np.mean(sure)) if sure else float("nan"),
            "planets": float(np.mean(found)) if found else float("nan")}


def describe(results, pool_n, budget) -> str:
    parts = [f"{r['reach']} ({100 * r['reach'] / pool_n:.1f}%)" if r["reach"] else f">{budget}" for r in results]
    sure = np.nanmean([r["sure"] for r in results])
    planets = np.nanmean([r["planets"] for r in results])
    wall = sum(r["seconds"] for r in results)
    return (f"labels to reach: {', '.join(parts)}; queue: {100 * sure:.0f}% sure planets (p>=0.9), "
            f"{100 * planets:.0f}% planets ({wall:.0f} s)")


def main() -> int:
    parser = bench_parser(__doc__, quick="1 seed per phase, budgets 600, two mixes")
    parser.add_argument("--choose-seeds", type=int, default=2)
    parser.add_argument("--report-seeds", type=int, default=2)
    parser.add_argument("--initial", type=int, default=200)
    parser.add_argument("--batch", type=int, default=50,
                        help="labels per round: the site retrains every 50 (VETTING_RETRAIN_EVERY_N_LABELS)")
    parser.add_argument("--choose-budget", type=int, default=900, help="labels per mix when choosing (half pool)")
    parser.add_argument("--budget", type=int, default=1500, help="labels per mix when reporting")
    parser.add_argument("--random-budget", type=int, default=4500,
                        help="labels for random sampling: 3x --budget, so a run can show the 3x target")
    parser.add_argument("--workers", type=int, default=2, help="simulations run at once (one thread each)")
    parser.add_argument("--report-all", action="store_true", help="report every mix, not only the chosen one")
    parser.add_argument("--mixes", default=None, help="JSON {name: mix} replacing the built-in list")
    parser.add_argument("--targets", default=None, help="CHOOSE,REPORT whole-pool APs of an earlier run")
    parser.add_argument("--verbose", action="store_true", help="print every round of every simulation")
    parser.add_argument("--report-only", default=None,
                        help="comma-separated mixes (and 'random') to report without choosing: an earlier run's choice")
    args = parser.parse_args()
    src = astronet_dir()
    if src is None:
        return 0
    mixes = json.loads(args.mixes) if args.mixes else dict(MIXES)
    if DEFAULT_MIX not in mixes.values():
        mixes["site default"] = dict(DEFAULT_MIX)
    if args.quick:
        args.choose_seeds = args.report_seeds = 1
        args.choose_budget = args.budget = args.random_budget = 600
        mixes = dict(list(mixes.items())[:2])
    report_only = args.report_only.split(",") if args.report_only else None
    if report_only:
        unknown = [n for n in report_only if n not in mixes and n != "random"]
        if unknown:
            parser.error(f"--report-only: unknown mix(es) {', '.join(unknown)}; known: {', '.join(mixes)}, random")
    train, val = astronet_splits(src, "train", "val")
    train = train.subset(train.labeled_mask)
    pool_a, test_b = halves_by_star(train, seed=1234)
    ex = get_reusable_executor(max_workers=args.workers)

    with Stopwatch() as sw:
        if args.targets:
            target_a, target = (float(v) for v in args.targets.split(","))
        else:
            target_a, target = ex.map(whole_pool_ap, (pool_a, train), (test_b, val))
    ten = int(0.1 * len(train.y))
    print(f"CHOOSE on train halves: pool {len(pool_a.y)}, test {len(test_b.y)}; whole-pool planet AP {target_a:.3f}",
          flush=True)
    print(f"REPORT pool = train ({len(train.y)}), test = val ({len(val.y)}); whole-pool planet AP {target:.3f}; "
          f"10% of the pool = {ten} labels (targets: {sw.wall:.0f} s)", flush=True)

    report_seeds = list(range(100, 100 + args.report_seeds))
    futures = {}

    def submit(phase, name, mix, seed):
        if phase == "choose":
            job = (pool_a, test_b, mix, seed, args.choose_budget, args.initial, args.batch, target_a)
        else:
            budget = args.random_budget if mix is None else args.budget
            job = (train, val, mix, seed, budget, args.initial, args.batch, target)
        if args.verbose:
            job += (f"{phase} {name}",)
        futures[ex.submit(_run, *job)] = (phase, name, seed)

    # Choosing first; then what does not depend on the choice (the old default, random) so the
    # workers stay busy; the chosen mix is reported as soon as the choice is made.
    choosing = report_only is None
    if choosing:
        for name, mix in mixes.items():
            for seed in range(args.choose_seeds):
                submit("choose", name, mix, seed)
        report_names = list(mixes) if args.report_all else [n for n, m in mixes.items() if m == OLD_DEFAULT]
    else:
        report_names = [n for n in report_only if n != "random"]
    with_random = choosing or "random" in report_only
    for name in report_names:
        for seed in report_seeds:
            submit("report", name, mixes[name], seed)
    if with_random:
        for seed in report_seeds:
            submit("report", "random", None, seed)
    results, chosen = {}, None
    n_choose = len(mixes) * args.choose_seeds
    while len(results) < len(futures):
        pending = [f for f in futures if futures[f] not in results]
        done = next(as_completed(pending))
        key = futures[done]
        results[key] = done.result()
        r = results[key]
        print(f"    done {key[0]} {key[1]} seed {key[2]}: reach {r['reach']} in {r['rounds']} rounds "
              f"({r['seconds']:.0f} s)", flush=True)
        if choosing and chosen is None and sum(k[0] == "choose" for k in results) == n_choose:
            chosen = choose(mixes, results, args, len(pool_a.y))
            if chosen not in report_names:
                report_names.append(chosen)
                for seed in report_seeds:
                    submit("report", chosen, mixes[chosen], seed)

    random = [results[("report", "random", s)] for s in report_seeds] if with_random else None
    if random:
        print(f"  report {'random':<28} {describe(random, len(train.y), args.random_budget)}")
    for name in report_names:
        res = [results[("report", name, s)] for s in report_seeds]
        ratios = [] if random else ["not run"]
        for d, r in zip(res, random or []):
            if d["reach"] is None:
                ratios.append("n/a")
            elif r["reach"] is None:
                ratios.append(f">{args.random_budget / d['reach']:.1f}x")
            else:
                ratios.append(f"{r['reach'] / d['reach']:.1f}x")
        ok = all(d["reach"] is not None and d["reach"] <= ten for d in res)
        print(f"  report {name:<28} {describe(res, len(train.y), args.budget)}")
        print(f"         <= 10% of pool in every seed: {'yes' if ok else 'no'}; random needs {', '.join(ratios)}")
    site = [n for n in mixes if mixes[n] == DEFAULT_MIX]
    print(f"site default (classifier.active.DEFAULT_MIX) = {site[0] if site else DEFAULT_MIX}")
    print("target: the site default reaches the whole-pool AP with <= 10% of the pool; random needs >= 3x")
    return 0


def choose(mixes, results, args, pool_n) -> str:
    """The mix with the fewest labels to reach the target on the train halves (mean over seeds;
    not reached counts as budget + one batch); prints every mix."""
    chosen, best_key = None, None
    for name in mixes:
        res = [results[("choose", name, s)] for s in range(args.choose_seeds)]
        # Fewest labels first; a tie goes to the larger mean AP over the rounds (the same rounds,
        # since equal reach means equal stopping rounds).
        key = (float(np.mean([r["reach"] or args.choose_budget + args.batch for r in res])),
               -float(np.mean([r["mean_ap"] for r in res])))
        print(f"  choose {name:<28} {describe(res, pool_n, args.choose_budget)}; "
              f"mean AP over rounds {-key[1]:.4f}", flush=True)
        if best_key is None or key < best_key:
            chosen, best_key = name, key
    print(f"chosen on the train split: {chosen} {mixes[chosen]}", flush=True)
    return chosen


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    sys.exit(main())
