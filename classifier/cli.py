"""Command line of the classifier (``python -m classifier ...``).

Commands
--------
``evaluate --train PATH --test PATH --out DIR [--model auto|ensemble|hgb] [--profile full|fast] [--seed S]``
    PATH is an Astronet-layout directory (candidates.csv + views.npz, optionally
    ``lightcurves/<candidate_id>.npz`` for the light-curve vetting metrics) or a NASA Exoplanet
    Archive CSV (KOI cumulative, DR24/DR25 TCE, TOI); see :mod:`classifier.loaders`. The design
    matrix has the site's columns (:func:`classifier.dataset.design_matrix`; archive tables add
    the table-level features of :mod:`classifier.table_features`, computed over both files).
    Trains on the labeled rows of --train (``--model auto``: a default HistGradientBoosting on
    archive tables, where it ranks as well as the ensemble; on Astronet-layout directories the
    calibrated :class:`~classifier.training.VettingEnsemble` of ``--profile``, whose ``full`` is
    one histogram-boosting family trained with mirrored views), writes ``DIR/predictions.csv``
    (candidate_id, p_<class>..., p_planet, p_triage, uncertainty) for every --test row and
    ``DIR/metrics.json`` when --test has labels.
``simulate --pool DIR --test DIR --strategy NAME --initial N --batch B --budget L --seed S --out FILE.csv``
    Active-learning simulation: labels of the pool are revealed only when queried. Writes one
    row per round (n_labels, strategy, planet_ap, triage_ap, ece, and what the round's queries
    showed a vetter: ``sure_planet_share``, the share of the next batch the model already called
    planets with p_planet >= 0.9, and ``planet_share``, the share that were planets). Per-round
    fits use the ``fast`` profile by default (histogram boosting + extra trees + logistic
    regression, calibrated); ``--profile full`` uses the site's full ensemble. ``--stop-at AP``
    ends the run at the first round whose planet AP reaches AP (labels-to-reach is unchanged;
    the rounds after it are not run).
``reproduce ARTIFACT --labels SNAPSHOT [--tolerance T] [--json FILE]``
    Retrain the artifact's model from its label snapshot with the recorded seed and
    hyperparameters and report the max absolute difference of probabilities; exit status 1
    when it exceeds the tolerance (see :mod:`classifier.reproduce`).
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
from classifier.scoring import score, scores_from_proba
from classifier.training import VettingEnsemble

#: Strategy names accepted by ``simulate``: single strategies, or ``default`` (the site's mix
#: :data:`classifier.active.DEFAULT_MIX` with diversity).
SIMULATE_STRATEGIES = ("default",) + STRATEGIES
#: p_planet at or above which a queried candidate counts as a planet the model is already sure of.
SURE_PLANET = 0.9


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


def _load(path: str, what: str, context: tuple[str, ...] = ()) -> Dataset:
    try:
        return load_any(path, context=context)
    except (FileNotFoundError, ValueError) as exc:
        raise CLIError(f"cannot read {what} {path}: {exc}") from None


#: ``evaluate --model auto``: the model each kind of input uses. On archive tables (catalog numbers
#: only) a default HistGradientBoosting ranks planets as well as the calibrated ensemble on
#: star-disjoint held-out Kepler DR24 TCEs (``bench/bench_dr24.py``), so the simpler model is the
#: table-path default; Astronet-layout directories (views) use the calibrated VettingEnsemble, whose
#: ``full`` profile is itself the simpler model there (one hgb family; see ``PROFILE_FAMILIES``).
AUTO_MODEL = {"table": "hgb", "views": "ensemble"}


class TableModel:
    """The table-path model: a default scikit-learn HistGradientBoostingClassifier (NaN-aware).

    Parameters
    ----------
    random_state : int
    """

    def __init__(self, random_state: int = 0):
        self.random_state = random_state

    def fit(self, X, y, groups=None):
        from sklearn.ensemble import HistGradientBoostingClassifier

        t0 = time.perf_counter()
        X = np.asarray(X, dtype=float)
        # Columns empty in training (views, light-curve metrics of a catalog table) are dropped:
        # they carry nothing and HistGradientBoosting cannot bin an all-NaN column.
        self.keep_ = np.isfinite(X).any(axis=0)
        self.model_ = HistGradientBoostingClassifier(random_state=self.random_state).fit(
            X[:, self.keep_], np.asarray(y, dtype=str))
        self.classes_ = [str(c) for c in self.model_.classes_]
        self.families_ = ["hgb"]
        self.fit_seconds_ = round(time.perf_counter() - t0, 2)
        return self

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities (n, k), columns ``classes_``."""
        return self.model_.predict_proba(np.asarray(X, dtype=float)[:, self.keep_])


def _model_kind(choice: str, train_path: str) -> str:
    if choice != "auto":
        return choice
    return AUTO_MODEL["views" if Path(train_path).is_dir() else "table"]


def cmd_evaluate(args: argparse.Namespace) -> dict | None:
    # Archive tables: the table-level features of each file see the other file's rows too, so a
    # held-out table is featurised against the same catalog as the training table.
    train_ds = _labeled(_load(args.train, "--train", (args.test,)), f"--train {args.train}")
    test_ds = _load(args.test, "--test", (args.train,))
    if train_ds.feature_names != test_ds.feature_names:
        raise CLIError("--train and --test give different feature sets")
    kind = _model_kind(args.model, args.train)
    if kind == "hgb":
        model = TableModel(random_state=args.seed)
    else:
        model = VettingEnsemble(profile=args.profile, random_state=args.seed, n_jobs=args.n_jobs)
    try:
        model.fit(train_ds.X, train_ds.y, train_ds.groups)
    except ValueError as exc:
        raise CLIError(f"cannot train on {args.train}: {exc}") from None
    s = score(model, test_ds.X) if kind == "ensemble" else scores_from_proba(model.predict_proba(test_ds.X),
                                                                             model.classes_)
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
            "model": kind,
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
    stop_at: float | None = None,
) -> list[dict]:
    """Run an active-learning simulation and return one dict per round.

    The pool's labels are read only for rows that were queried. Round 0 labels ``initial``
    random rows (more if needed until two classes are present). Each round fits
    :class:`VettingEnsemble` on the labeled rows, evaluates it on the labeled rows of ``test``
    (planet AP, triage AP, top-label ECE), then queries ``batch`` rows with ``strategy``.
    ``mix`` (strategy -> share) replaces :data:`DEFAULT_MIX` when ``strategy="default"``.

    ``stop_at`` (a planet AP) ends the run after the first round that reaches it: the labels
    needed to reach it are the same as in a run to the full budget, the later rounds are saved.
    Random sampling does not score the pool (its picks do not depend on the model), so its
    rounds cost one fit each. Each row also says what the batch queried after it showed a vetter:
    ``sure_planet_share`` (share with p_planet >= 0.9 under the round's model: confirmations of
    planets the model is sure of) and ``planet_share`` (share that were planets); None for the
    last round.
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
        row.update(sure_planet_share=None, planet_share=None)
        rows.append(row)
        remaining = budget - len(labeled)
        reached = stop_at is not None and m["planet_ap"] is not None and m["planet_ap"] >= stop_at
        if reached or remaining <= 0 or len(labeled) >= len(pool.y):
            if log:
                log(row)
            break
        unl = np.setdiff1d(np.arange(len(pool.y)), idx)
        if mix == {"random": 1.0}:
            # The picks do not depend on the model: skip scoring the pool (most of a round's cost
            # after the fit); scoring the picks alone gives the queue figures.
            s_pool = {"proba": np.zeros((len(unl), 1))}
        else:
            s_pool = score(model, pool.X[unl])
        queries = select_batch(
            s_pool, None if emb is None else emb[unl], batch_size=min(batch, remaining),
            mix=mix, seed=seed + len(labeled), diversity=diversity,
        )
        picked = np.array([int(unl[q.index]) for q in queries], dtype=int)
        if len(picked):
            p_planet = score(model, pool.X[picked]).p_planet
            row["sure_planet_share"] = round(float(np.mean(p_planet >= SURE_PLANET)), 4)
            row["planet_share"] = round(float(np.mean(pool.y[picked] == "PC")), 4)
        if log:
            log(row)
        labeled.extend(picked.tolist())
    return rows


def cmd_simulate(args: argparse.Namespace) -> list[dict]:
    pool = _load(args.pool, "--pool")
    test = _load(args.test, "--test")
    rows = simulate(
        pool, test, strategy=args.strategy, initial=args.initial, batch=args.batch, budget=args.budget,
        seed=args.seed, profile=args.profile, n_jobs=args.n_jobs, stop_at=args.stop_at,
        log=lambda r: print(f"n_labels={r['n_labels']} planet_ap={r['planet_ap']} triage_ap={r['triage_ap']} "
                            f"ece={r['ece']:.4f} sure_planet_share={r['sure_planet_share']}", flush=True),
    )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {out} ({len(rows)} rounds)")
    return rows


def _cmd_reproduce(args: argparse.Namespace):
    """``reproduce``: exit status 1 when the refit's probabilities differ beyond the tolerance."""
    from classifier.persistence import ArtifactIntegrityError
    from classifier.reproduce import SnapshotError, print_report, reproduce_files

    try:
        result = reproduce_files(args.artifact, args.labels, tolerance=args.tolerance)
    except (FileNotFoundError, ArtifactIntegrityError, SnapshotError) as exc:
        raise CLIError(str(exc)) from None
    print_report(result, json_path=args.json)
    if not result.matches:
        sys.exit(1)
    return result


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m classifier", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    ev = sub.add_parser("evaluate", help="train on --train, score --test, write predictions (and metrics)")
    ev.add_argument("--train", required=True, help="Astronet-layout directory or archive CSV (labeled)")
    ev.add_argument("--test", required=True, help="same format; labels optional")
    ev.add_argument("--out", required=True, help="output directory")
    ev.add_argument("--profile", default="full", choices=["full", "fast"], help="ensemble profile")
    ev.add_argument("--model", default="auto", choices=["auto", "ensemble", "hgb"],
                    help="auto: default HGB on archive tables, the ensemble on Astronet-layout directories")
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
    sim.add_argument("--stop-at", type=float, default=None,
                     help="end at the first round whose planet AP reaches this value")
    sim.set_defaults(func=cmd_simulate)
    rep = sub.add_parser("reproduce", help="retrain an artifact's model from its label snapshot; compare predictions")
    rep.add_argument("artifact", help="model file (.joblib) with its .json sidecar")
    rep.add_argument("--labels", required=True, help="label snapshot (.npz) of the model's training data")
    rep.add_argument("--tolerance", type=float, default=None,
                     help="max |p difference| accepted (default 1e-12 with the recorded versions, else 0.01)")
    rep.add_argument("--json", default=None, help="also write the result as JSON to this file")
    rep.set_defaults(func=_cmd_reproduce)
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
