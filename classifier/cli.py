"""Command line of the classifier (``python -m classifier ...``).

Commands
--------
``evaluate --train PATH --test PATH --out DIR [--profile full|fast] [--seed S]``
    PATH is an Astronet-layout directory (candidates.csv + views.npz, optionally
    ``lightcurves/<candidate_id>.npz`` for the light-curve vetting metrics) or a NASA Exoplanet
    Archive CSV (KOI cumulative, DR24/DR25 TCE, TOI); see :mod:`classifier.loaders`. The design
    matrix has the site's columns (:func:`classifier.dataset.design_matrix`). Trains the
    calibrated ensemble on the labeled rows of --train, writes ``DIR/predictions.csv``
    (candidate_id, p_<class>..., p_planet, p_triage, uncertainty) for every --test row and
    ``DIR/metrics.json`` when --test has labels.
``simulate --pool DIR --test DIR --strategy NAME --initial N --batch B --budget L --seed S --out FILE.csv``
    Active-learning simulation: labels of the pool are revealed only when queried. Writes one
    row per round (n_labels, strategy, planet_ap, triage_ap, ece). Per-round fits use the
    ``fast`` profile by default (histogram boosting + extra trees + logistic regression,
    calibrated); ``--profile full`` uses the site's full ensemble.
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

import numpy as np

from classifier.active import DEFAULT_MIX, STRATEGIES, embed, select_batch
from classifier.dataset import Dataset
from classifier.evaluation import classification_metrics, top_label_ece
from classifier.loaders import load_any
from classifier.scoring import score
from classifier.training import VettingEnsemble

#: Strategy names accepted by ``simulate``: single strategies, or ``default`` (the site's mix
#: :data:`classifier.active.DEFAULT_MIX` with diversity).
SIMULATE_STRATEGIES = ("default",) + STRATEGIES


class CLIError(Exception):
    """A user error: printed without a traceback, exit status 2."""


def _labeled(ds: Dataset, what: str) -> Dataset:
    mask = ds.labeled_mask
    if not mask.any():
        raise CLIError(
            f"{what} has no labels: an Astronet-layout directory needs a label_4class column, an archive "
            "table its disposition column (av_training_set, koi_disposition or tfopwg_disp)"
        )
    return ds.subset(mask)


def _load(path: str, what: str) -> Dataset:
    try:
        return load_any(path)
    except (FileNotFoundError, ValueError) as exc:
        raise CLIError(f"cannot read {what} {path}: {exc}") from None


def cmd_evaluate(args: argparse.Namespace) -> dict | None:
    train_ds = _labeled(_load(args.train, "--train"), f"--train {args.train}")
    test_ds = _load(args.test, "--test")
    if train_ds.feature_names != test_ds.feature_names:
        raise CLIError("--train and --test give different feature sets")
    model = VettingEnsemble(profile=args.profile, random_state=args.seed, n_jobs=args.n_jobs)
    try:
        model.fit(train_ds.X, train_ds.y, train_ds.groups)
    except ValueError as exc:
        raise CLIError(f"cannot train on {args.train}: {exc}") from None
    s = score(model, test_ds.X)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "predictions.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["candidate_id", *[f"p_{c}" for c in s.classes], "p_planet", "p_triage", "uncertainty"])
        for i, cid in enumerate(test_ds.candidate_ids):
            writer.writerow([cid, *[f"{p:.6g}" for p in s.proba[i]], f"{s.p_planet[i]:.6g}",
                             f"{s.p_triage[i]:.6g}", f"{s.uncertainty[i]:.6g}"])
    metrics = None
    mask = test_ds.labeled_mask
    if mask.any():
        metrics = classification_metrics(test_ds.y[mask], s.proba[mask], s.classes)
        metrics.update({
            "n_train": int(len(train_ds.y)),
            "classes": list(s.classes),
            "families": list(model.families_),
            "fit_seconds": model.fit_seconds_,
            "profile": args.profile,
            "seed": args.seed,
        })
        (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    print(f"wrote {out / 'predictions.csv'} ({len(test_ds.candidate_ids)} candidates)"
          + (f" and metrics.json: planet AP {metrics['planet_ap']}, triage AP {metrics['triage_ap']}, "
             f"ECE {metrics['ece']:.4f}"
             if metrics else " (test set unlabeled: no metrics)"))
    return metrics


def simulate(
    pool: Dataset,
    test: Dataset,
    *,
    strategy: str,
    initial: int,
    batch: int,
    budget: int,
    seed: int,
    profile: str = "fast",
    n_jobs: int | None = None,
    log=None,
    mix: dict | None = None,
) -> list[dict]:
    """Run an active-learning simulation and return one dict per round.

    The pool's labels are read only for rows that were queried. Round 0 labels ``initial``
    random rows (more if needed until two classes are present). Each round fits
    :class:`VettingEnsemble` on the labeled rows, evaluates it on the labeled rows of ``test``
    (planet AP, triage AP, top-label ECE), then queries ``batch`` rows with ``strategy``.
    ``mix`` (strategy -> share) replaces :data:`DEFAULT_MIX` when ``strategy="default"``.
    """
    if strategy not in SIMULATE_STRATEGIES:
        raise CLIError(f"unknown strategy {strategy!r}; expected one of {', '.join(SIMULATE_STRATEGIES)}")
    if initial < 2 or batch < 1 or budget < initial:
        raise CLIError("need --initial >= 2, --batch >= 1 and --budget >= --initial")
    pool_labeled = pool.labeled_mask
    if not pool_labeled.any():
        raise CLIError("the pool has no labels to reveal")
    pool = pool.subset(pool_labeled)  # unlabeled pool rows could never be revealed
    test = _labeled(test, "the test set")
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(pool.y))
    labeled = list(order[:initial])
    k = initial
    while len(set(pool.y[labeled].tolist())) < 2 and k < len(order):
        labeled.append(order[k])
        k += 1
    if strategy == "default":
        mix, diversity = dict(mix or DEFAULT_MIX), True
    else:
        mix, diversity = {strategy: 1.0}, False
    emb = embed(pool.X, random_state=seed) if diversity else None
    rows = []
    while True:
        t0 = time.perf_counter()
        idx = np.array(labeled)
        model = VettingEnsemble(profile=profile, random_state=seed, n_jobs=n_jobs)
        model.fit(pool.X[idx], pool.y[idx], pool.groups[idx])
        s_test = score(model, test.X)
        m = classification_metrics(test.y, s_test.proba, s_test.classes)
        row = {
            "n_labels": len(labeled), "strategy": strategy, "seed": seed,
            "planet_ap": m["planet_ap"], "triage_ap": m["triage_ap"],
            "ece": top_label_ece(test.y, s_test.proba, s_test.classes),
            "fit_seconds": round(time.perf_counter() - t0, 2),
        }
        rows.append(row)
        if log:
            log(row)
        remaining = budget - len(labeled)
        if remaining <= 0 or len(labeled) >= len(pool.y):
            break
        unl = np.setdiff1d(np.arange(len(pool.y)), idx)
        s_pool = score(model, pool.X[unl])
        queries = select_batch(
            s_pool, None if emb is None else emb[unl], batch_size=min(batch, remaining),
            mix=mix, seed=seed + len(labeled), diversity=diversity,
        )
        labeled.extend(int(unl[q.index]) for q in queries)
    return rows


def cmd_simulate(args: argparse.Namespace) -> list[dict]:
    pool = _load(args.pool, "--pool")
    test = _load(args.test, "--test")
    rows = simulate(
        pool, test, strategy=args.strategy, initial=args.initial, batch=args.batch, budget=args.budget,
        seed=args.seed, profile=args.profile, n_jobs=args.n_jobs,
        log=lambda r: print(f"n_labels={r['n_labels']} planet_ap={r['planet_ap']} triage_ap={r['triage_ap']} "
                            f"ece={r['ece']:.4f}", flush=True),
    )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {out} ({len(rows)} rounds)")
    return rows


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m classifier", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    ev = sub.add_parser("evaluate", help="train on --train, score --test, write predictions (and metrics)")
    ev.add_argument("--train", required=True, help="Astronet-layout directory or archive CSV (labeled)")
    ev.add_argument("--test", required=True, help="same format; labels optional")
    ev.add_argument("--out", required=True, help="output directory")
    ev.add_argument("--profile", default="full", choices=["full", "fast"])
    ev.add_argument("--seed", type=int, default=0)
    ev.add_argument("--n-jobs", type=int, default=None)
    ev.set_defaults(func=cmd_evaluate)
    sim = sub.add_parser("simulate", help="active-learning simulation on a labeled pool")
    sim.add_argument("--pool", required=True)
    sim.add_argument("--test", required=True)
    sim.add_argument("--strategy", required=True, choices=SIMULATE_STRATEGIES)
    sim.add_argument("--initial", type=int, default=200)
    sim.add_argument("--batch", type=int, default=100)
    sim.add_argument("--budget", type=int, default=4000)
    sim.add_argument("--seed", type=int, default=0)
    sim.add_argument("--out", required=True, help="CSV file, one row per round")
    sim.add_argument("--profile", default="fast", choices=["full", "fast"])
    sim.add_argument("--n-jobs", type=int, default=None)
    sim.set_defaults(func=cmd_simulate)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except CLIError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


__all__ = ["main", "simulate", "build_parser", "CLIError"]
