"""A simulated vetting team on real TESS candidates: consensus rules, adaptive overlap, reliability.

Six simulated vetters with known confusion matrices (one expert, three average, one careless, one
who drifts late in a session; ``_team_sim.py``) label the Astronet-Triage *validation* split (real
TESS views imported through the views importer into a throwaway PostgreSQL database) through the
site's own services: each asks for its next candidate (``queue_selectors.next_candidate_id``,
which claims it under the overlap rule) and labels it (``reviews.services.label_create``). The
true classes are Yu et al.'s hand labels (``label_orig_6class``; "O" counts as J).

0. **choosing the adaptive setting on the train split** (never on the reported split): an
   in-memory replay of the site's own overlap rule (``consensus.decide``/``labels_wanted`` and
   the Dawid-Skene fit, ``_team_sim.replay``) on ``--tune-candidates`` of the *train* split, for
   every (minimum, confidence) of ``--grid`` and ``--tune-seeds`` seeds; the setting with the
   fewest labels among those at least as accurate as fixed overlap 3 on every seed is chosen.
1. **fixed overlap 3** (``VETTING_LABELS_PER_CANDIDATE=3``, no adaptive overlap): the consensus of
   the same labels by weighted majority and by the reliability model (Dawid-Skene, refitted at
   the end), against the truth: accuracy and planet recall. Target: the reliability model's
   error <= 0.7x majority vote's.
2. **adaptive overlap** with the chosen setting (a minimum of labels, then one more while the
   Dawid-Skene posterior of the top class is below ``VETTING_OVERLAP_CONFIDENCE``, up to 5;
   reliability refitted every ``--refit-every`` labels as beat would): labels spent and accuracy.
   Target: >= 30 % fewer labels than fixed overlap 3 at no lower accuracy.
3. Each vetter's estimated accuracy (fit) against its true accuracy on the labels it gave.
4. **known-answer check**: a pool from the *train* split (``--known-planets`` planets and half as
   many non-planets) is settled by a curator with the true class and marked known answers;
   ``VETTING_KNOWN_ANSWER_SHARE`` (``--known-share``) of each vetter's queue is drawn from it by the
   site's own queue while the vetters label the validation split at ``--known-overlap``. Each
   vetter's planet recall as the team page reports it (``selectors.known_answer_report``, with its
   Wilson 95 % interval) is compared with the simulated truth defined the same way: the mean, over
   the labels the vetter gave in the run, of its true P(says PC | PC) at that moment of its
   session (the drifting vetter's recall depends on it). Target: within 0.05. (No refits during
   this run: the consensus does not enter the known-answer score.)

The vetter matrices, the refit cadence and the grid were set before any run of this version. Times
are wall clock of the whole run (unreliable on a shared machine; the label and accuracy figures
are not).
"""
from __future__ import annotations

import os
import random
import sys
from pathlib import Path

import numpy as np
from _common import Stopwatch, astronet_dir, bench_parser, django_database, write_split_dirs
from _team_sim import DRIFT_AFTER, VETTERS, SimVetter, choose_adaptive


def main() -> int:
    parser = bench_parser(__doc__, quick="400 candidates of the validation split, 800 of train to tune, "
                                         "60 planet known answers")
    parser.add_argument("--candidates", type=int, default=0, help="sample this many (default: the whole split)")
    parser.add_argument("--split", default="val", help="Astronet-Triage split to label and report (default val)")
    parser.add_argument("--refit-every", type=int, default=300, help="labels between reliability refits")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tune-split", default="train", help="split the adaptive setting is chosen on (default train)")
    parser.add_argument("--tune-candidates", type=int, default=0,
                        help="candidates of the tuning split (default 2,000; quick 800)")
    parser.add_argument("--tune-seeds", type=int, default=3, help="simulated teams per tuning point (default 3)")
    parser.add_argument("--grid", default="1:0.8,1:0.85,1:0.9,1:0.95,1:0.97,2:0.9,2:0.95",
                        help="adaptive settings tried on the tuning split, minimum:confidence pairs")
    parser.add_argument("--known-share", type=float, default=0.5,
                        help="VETTING_KNOWN_ANSWER_SHARE of the known-answer run (default 0.5: every 2nd label)")
    parser.add_argument("--known-planets", type=int, default=0,
                        help="planets in the known-answer pool, from the tuning split, plus half as many "
                             "non-planets (default 200; quick 60)")
    parser.add_argument("--known-overlap", type=int, default=2,
                        help="fixed overlap of the validation candidates in the known-answer run (default 2)")
    args = parser.parse_args()
    if args.tune_split == args.split:
        parser.error("--tune-split must differ from --split: settings are never chosen on the reported split")
    if args.quick:
        args.candidates = args.candidates or 400
    args.tune_candidates = args.tune_candidates or (800 if args.quick else 2000)
    args.known_planets = args.known_planets or (60 if args.quick else 200)
    src = astronet_dir()
    if src is None:
        return 0
    with django_database(f"bench_team_{os.getpid()}", settings="vetting.settings.dev"):
        return run(args, src)


def _sample(table, n: int, seed: int):
    """A class-stratified sample of ``n`` rows of ``table`` (all rows if ``n`` is 0 or too big)."""
    if not n or n >= len(table):
        return table
    share = n / len(table)
    picked = [idx for _, group in table.groupby("label_orig_6class")
              for idx in group.sample(max(1, round(len(group) * share)), random_state=seed).index]
    return table.loc[sorted(picked)]


def _split_table(src: Path, split: str):
    import pandas as pd

    table = pd.read_csv(src / "candidates.csv")
    return table[table["split"] == split]


def _true_classes(table) -> list[str]:
    from classifier.vocabulary import ASTRONET_TO_CLASS

    return [ASTRONET_TO_CLASS[str(k)] for k in table["label_orig_6class"]]


def _import(src: Path, split: str, table) -> dict[int, str]:
    """Import the rows of ``table`` (a subset of ``split``) through the views importer; returns
    {candidate id: true class} of the candidates made."""
    import tempfile

    import pandas as pd

    from vetting.candidates.importers.views_bundle import import_views_folder
    from vetting.candidates.models import Candidate

    keep = set(table["candidate_id"].astype(str))
    with tempfile.TemporaryDirectory() as tmp:
        folder = write_split_dirs(src, Path(tmp))[split]
        with np.load(folder / "views.npz") as npz:
            views = {k: npz[k] for k in npz.files}
        mask = np.array([str(c) in keep for c in views["candidate_id"]])
        full = pd.read_csv(folder / "candidates.csv")
        full[full["candidate_id"].astype(str).isin(keep)].to_csv(folder / "candidates.csv", index=False)
        np.savez(folder / "views.npz", **{k: v[mask] for k, v in views.items()})
        with Stopwatch() as sw:
            report = import_views_folder(folder=folder)
    truth_by_catalog = dict(zip(table["candidate_id"].astype(str), _true_classes(table)))
    print(f"imported {split}: {dict(report.counts)} in {sw.wall:.1f} s")
    out = {}
    for pk, catalog_id in Candidate.objects.values_list("pk", "catalog_id"):
        key = catalog_id if catalog_id in truth_by_catalog else catalog_id.split("-")[-1]
        if key in truth_by_catalog:
            out[pk] = truth_by_catalog[key]
    if len(out) != len(table):
        raise SystemExit(f"could not match every candidate to its true class ({len(out)} of {len(table)}); "
                         f"catalog ids look like {list(Candidate.objects.values_list('catalog_id', flat=True)[:3])}")
    return out


def _reset() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE reviews_label, reviews_historicallabel, reviews_consensus, reviews_candidatereview, "
                       "reviews_assignment, reviews_reliabilityfit RESTART IDENTITY CASCADE")


def _team(seed: int) -> list[SimVetter]:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from vetting.core.roles import ensure_role_groups

    ensure_role_groups()
    group = Group.objects.get(name="vetter")
    team = []
    for i, (name, early, late) in enumerate(VETTERS):
        user, _ = get_user_model().objects.get_or_create(username=f"sim-{name}")
        user.groups.add(group)
        team.append(SimVetter(user, name, early, late, seed * 100 + i))
    return team


def _label_until_done(team: list[SimVetter], truth: dict[int, str], *, refit_every: int | None,
                      seed: int, answers: dict | None = None) -> int:
    """Vetters take turns (random order each round) asking for their next candidate and labeling
    it, until nobody gets one; returns the number of labels."""
    from vetting.learning import queue_selectors
    from vetting.reviews import services

    rng = random.Random(seed)
    active = list(team)
    n = 0
    while active:
        rng.shuffle(active)
        for vetter in list(active):
            cid = queue_selectors.next_candidate_id(user=vetter.user, exclude_ids=[])
            if cid is None:
                active.remove(vetter)
                continue
            said = vetter.label(truth[cid])
            services.label_create(candidate=cid, vetter=vetter.user, label_class=said, seconds_spent=30.0)
            if answers is not None:
                answers.setdefault(vetter.name, []).append((cid, truth[cid], said))
            n += 1
            if refit_every and n % refit_every == 0:
                services.reliability_refit(recompute=True)
    return n


def _score(truth: dict[int, str]) -> tuple[float, float, int]:
    """(accuracy, planet recall, ties): a candidate without a consensus (tie) counts as wrong."""
    from vetting.reviews.models import Consensus

    got = dict(Consensus.objects.values_list("candidate_id", "label_class"))
    right = sum(got.get(pk) == cls for pk, cls in truth.items())
    planets = [pk for pk, cls in truth.items() if cls == "PC"]
    recall = sum(got.get(pk) == "PC" for pk in planets) / max(1, len(planets))
    return right / len(truth), recall, len(truth) - len(got)


def _tune(args, src: Path) -> tuple[int, float] | None:
    """Run 0: choose (minimum, confidence) on the tuning split by the in-memory replay."""
    from django.conf import settings

    table = _sample(_split_table(src, args.tune_split), args.tune_candidates, args.seed)
    grid = [(int(m), float(c)) for m, c in (pair.split(":") for pair in args.grid.split(","))]
    seeds = [args.seed + 1000 + k for k in range(args.tune_seeds)]  # not the reported run's draws
    with Stopwatch() as sw:
        best, rows = choose_adaptive(_true_classes(table), grid, seeds=seeds, refit_every=args.refit_every,
                                     max_labels=int(settings.VETTING_OVERLAP_MAX_LABELS),
                                     tie_margin=float(settings.VETTING_CONSENSUS.get("tie_margin", 0.0)))
    print(f"\n0. choosing the adaptive setting on {len(table)} candidates of the {args.tune_split} split "
          f"(in-memory replay of the site's rule, {len(seeds)} simulated teams, {sw.wall:.0f} s):")
    print(f"   {'setting':<28} {'per cand.':>9} {'accuracy':>9} {'seeds >= fixed 3':>16}")
    for name, per, acc, good in rows:
        print(f"   {name:<28} {per:>9.2f} {acc:>9.4f} {good:>10}/{len(seeds)}")
    print("   chosen: " + (f"min {best[0]}, confidence {best[1]:g}" if best else "none (no setting was as accurate)"))
    return best


def run(args, src: Path) -> int:
    from django.conf import settings

    chosen = _tune(args, src)
    truth = _import(src, args.split, _sample(_split_table(src, args.split), args.candidates, args.seed))
    n_pc = sum(c == "PC" for c in truth.values())
    print(f"{len(truth)} candidates of the {args.split} split ({n_pc} planets); vetters: "
          + ", ".join(f"{n} {e:.2f}" + (f"->{late:.2f} after {DRIFT_AFTER} labels/session" if late != e else "")
                      for n, e, late in VETTERS))
    base_conf = dict(settings.VETTING_CONSENSUS)
    results = {}

    # 1. fixed overlap 3, both rules on the same labels
    _reset()
    team = _team(args.seed)
    settings.VETTING_LABELS_PER_CANDIDATE, settings.VETTING_OVERLAP_ADAPTIVE = 3, False
    settings.VETTING_CONSENSUS = {**base_conf, "rule": "weighted_majority"}
    with Stopwatch() as sw:
        n_fixed = _label_until_done(team, truth, refit_every=None, seed=args.seed)
    results["majority, fixed 3"] = (n_fixed, *_score(truth), sw.wall)
    settings.VETTING_CONSENSUS = {**base_conf, "rule": "dawid_skene"}
    from vetting.reviews import services
    from vetting.reviews.selectors import latest_reliability_fit

    with Stopwatch() as sw:
        services.reliability_refit(recompute=True)
    results["Dawid-Skene, fixed 3"] = (n_fixed, *_score(truth), sw.wall)
    fit = latest_reliability_fit()
    truth_rows = [(v.name, v.right / max(1, v.n), fit.vetters.get(str(v.user.pk), {})) for v in team]

    # 2. adaptive overlap under the reliability model, with the setting chosen on the tuning split
    adaptive_name = None
    if chosen is not None:
        minimum, confidence = chosen
        _reset()
        team2 = _team(args.seed)
        settings.VETTING_LABELS_PER_CANDIDATE, settings.VETTING_OVERLAP_ADAPTIVE = minimum, True
        settings.VETTING_OVERLAP_CONFIDENCE = confidence
        with Stopwatch() as sw:
            n_adaptive = _label_until_done(team2, truth, refit_every=args.refit_every, seed=args.seed)
            services.reliability_refit(recompute=True)
        adaptive_name = f"DS, adaptive min {minimum} conf {confidence:g}"
        results[adaptive_name] = (n_adaptive, *_score(truth), sw.wall)
    settings.VETTING_CONSENSUS = base_conf

    print(f"\n{'run':<32} {'labels':>7} {'per cand.':>9} {'accuracy':>9} {'error':>7} {'PC recall':>9} "
          f"{'ties':>5} {'wall s':>7}")
    for name, (n, acc, recall, ties, wall) in results.items():
        print(f"{name:<32} {n:>7} {n / len(truth):>9.2f} {acc:>9.3f} {1 - acc:>7.3f} {recall:>9.3f} {ties:>5} "
              f"{wall:>7.1f}")
    maj, dsr = results["majority, fixed 3"], results["Dawid-Skene, fixed 3"]
    ratio = (1 - dsr[1]) / (1 - maj[1]) if maj[1] < 1 else float("nan")
    print(f"\nreliability-model error / majority error at the same {n_fixed} labels: {ratio:.2f} "
          f"(target <= 0.70: {'PASS' if ratio <= 0.7 else 'FAIL'})")
    if adaptive_name is None:
        print("adaptive overlap: no setting chosen on the tuning split (target: FAIL)")
    else:
        n, acc = results[adaptive_name][:2]
        saved = 1 - n / n_fixed
        verdict = "PASS" if saved >= 0.3 and acc >= dsr[1] else "FAIL"
        print(f"adaptive overlap (chosen on {args.tune_split}) vs fixed overlap 3 under the same model: {saved:.0%} "
              f"fewer labels ({n} vs {n_fixed}), accuracy {acc:.3f} vs {dsr[1]:.3f} (majority {maj[1]:.3f}) "
              f"(target >= 30 % fewer at no lower accuracy: {verdict})")
    print(f"\n{'vetter':<11} {'labels':>6} {'true acc':>9} {'estimated':>9} {'diff':>6}  (fixed-3 run; estimate = "
          "Dawid-Skene accuracy, class-prior weighted)")
    for name, true_acc, est in truth_rows:
        e = est.get("accuracy")
        print(f"{name:<11} {est.get('n_labels', 0):>6} {true_acc:>9.3f} "
              f"{(e if e is not None else float('nan')):>9.3f} {((e or 0) - true_acc):>+6.3f}")
    if args.known_share > 0:
        _known_answer_check(args, src, truth, base_conf)
    return 0


def _known_answer_check(args, src: Path, truth: dict[int, str], base_conf: dict) -> None:
    """Run 4: known answers (from the tuning split) mixed into the queues; the team page's planet
    recall per vetter vs the simulated truth."""
    import pandas as pd
    from django.conf import settings
    from django.contrib.auth import get_user_model

    from vetting.reviews import services
    from vetting.reviews.selectors import known_answer_report

    _reset()
    table = _split_table(src, args.tune_split)
    planets = table[table["label_orig_6class"] == "PC"]
    others = table[table["label_orig_6class"] != "PC"]
    n_pc = min(len(planets), args.known_planets)
    pool_table = pd.concat([planets.sample(n_pc, random_state=args.seed + 7),
                            others.sample(min(len(others), n_pc // 2), random_state=args.seed + 7)])
    pool = _import(src, args.tune_split, pool_table)
    truth = {**truth, **pool}
    team = _team(args.seed)
    curator, _ = get_user_model().objects.get_or_create(username="sim-curator", is_superuser=True)
    for pk in pool:
        services.curator_label_set(candidate=pk, curator=curator, label_class=pool[pk])
    services.known_answer_set(candidate_ids=list(pool), curator=curator)
    settings.VETTING_LABELS_PER_CANDIDATE, settings.VETTING_OVERLAP_ADAPTIVE = args.known_overlap, False
    settings.VETTING_KNOWN_ANSWER_SHARE = args.known_share
    settings.VETTING_CONSENSUS = {**base_conf, "rule": "dawid_skene"}
    answers: dict[str, list] = {}
    with Stopwatch() as sw:
        # no refits during this run: consensus does not enter the known-answer score, and refits
        # would only slow the run
        n = _label_until_done(team, truth, refit_every=None, seed=args.seed, answers=answers)
    settings.VETTING_CONSENSUS = base_conf
    report = {row["username"]: row["score"] for row in known_answer_report(user=curator)["vetters"]}
    n_known = sum(1 for rows in answers.values() for cid, _, _ in rows if cid in pool)
    print(f"\n4. known-answer check: {len(pool)} known answers ({n_pc} planets, from the {args.tune_split} split) "
          f"settled by a curator; share {args.known_share:g} of each queue; {args.split} candidates at fixed overlap "
          f"{args.known_overlap}; {n} labels, {n_known} on known answers ({n_known / max(1, n):.1%}), {sw.wall:.0f} s")
    print("   site = the team page's planet recall on known answers (selectors.known_answer_report) with its Wilson "
          "95 % interval;\n   truth = mean over all the vetter's labels in the run of its true P(says PC | PC) at "
          "that moment (truth at KA = the same over its planet known answers only)")
    print(f"   {'vetter':<11} {'checks':>6} {'PC seen':>7} {'site recall [95% CI]':>22} {'truth':>6} {'diff':>7} "
          f"{'in CI':>5} {'truth at KA':>11} {'said PC':>9} {'precision':>9}")
    worst, inside, rated = 0.0, 0, 0
    for vetter in team:
        score = report.get(vetter.user.username)
        truth_all = float(np.mean([r for _, _, r in vetter.log])) if vetter.log else float("nan")
        ka_rows = [(s == "PC", r) for (cid, t, s), (_, _, r) in zip(answers.get(vetter.name, []), vetter.log)
                   if cid in pool and t == "PC"]
        truth_ka = float(np.mean([r for _, r in ka_rows])) if ka_rows else float("nan")
        given = f"{sum(k for k, _ in ka_rows)}/{len(ka_rows)}"  # what the bench saw it say: the site must agree
        if score is None or score.recall.value is None:
            print(f"   {vetter.name:<11} no planet known answers")
            continue
        r = score.recall
        diff = r.value - truth_all
        worst = max(worst, abs(diff))
        rated += 1
        inside += r.low <= truth_all <= r.high
        prec = score.precision.value if score.precision.value is not None else float("nan")
        in_ci = "yes" if r.low <= truth_all <= r.high else "NO"
        print(f"   {vetter.name:<11} {score.n:>6} {r.n:>7} {r.value:>7.3f} [{r.low:.3f}, {r.high:.3f}] "
              f"{truth_all:>6.3f} {diff:>+7.3f} {in_ci:>5} {truth_ka:>11.3f} {given:>9} {prec:>9.3f}")
    verdict = "PASS" if rated and worst <= 0.05 else "FAIL"
    print(f"   largest |site - truth| planet recall: {worst:.3f} (target <= 0.05: {verdict}); truth inside the site's "
          f"95 % interval for {inside} of {rated} vetters")


if __name__ == "__main__":
    sys.exit(main())
