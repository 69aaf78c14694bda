"""The simulated vetting team of ``bench_team.py`` and an in-memory replay of the site's overlap rule.

* :class:`SimVetter`: a vetter with a known confusion matrix (:data:`VETTERS`, :data:`MISTAKES`),
  optionally drifting late in a session; it logs, per label, its true planet recall at that moment
  (the simulated truth the known-answer estimate is compared with).
* :func:`replay`: the adaptive-overlap rule of the site -- the same pure functions
  (``vetting.reviews.consensus.decide`` / ``labels_wanted``, ``classifier.reliability.dawid_skene``)
  -- run on a list of true classes without a database, with the bench's queue discipline (vetters
  take turns; each takes the first open candidate it has not labeled, newest first). Seconds instead
  of the real services' minutes: the bench uses it to choose the adaptive setting on the *train*
  split before the real-service runs on the split it reports.

Nothing here imports Django at import time.
"""
from __future__ import annotations

import random
from collections.abc import Sequence

import numpy as np

#: Where a vetter's mistakes go, per true class (weights over the other classes): planets are
#: taken for EBs or junk, EBs for planets or blends, variability and systematics for each other.
MISTAKES = {
    "PC": {"EB": 0.4, "BEB": 0.2, "J": 0.3, "IS": 0.1},
    "EB": {"PC": 0.4, "BEB": 0.4, "V": 0.2},
    "V": {"J": 0.4, "IS": 0.3, "EB": 0.3},
    "IS": {"J": 0.6, "V": 0.4},
    "J": {"IS": 0.4, "V": 0.3, "PC": 0.2, "EB": 0.1},
}
#: (name, accuracy early in a session, accuracy after DRIFT_AFTER labels of a session).
VETTERS = (
    ("expert", 0.97, 0.97),
    ("average-1", 0.82, 0.82),
    ("average-2", 0.85, 0.85),
    ("average-3", 0.88, 0.88),
    ("careless", 0.55, 0.55),
    ("drifting", 0.90, 0.55),
)
SESSION_LENGTH, DRIFT_AFTER = 60, 40


def confusion(accuracy: float) -> dict[str, dict[str, float]]:
    """True-class -> {said class: probability} with ``accuracy`` on the diagonal."""
    out = {}
    for true, wrong in MISTAKES.items():
        total = sum(wrong.values())
        row = {c: (1 - accuracy) * w / total for c, w in wrong.items()}
        row[true] = accuracy
        out[true] = row
    return out


class SimVetter:
    """One simulated vetter. ``log``: per label given, (true class, said class, the vetter's true
    planet recall P(says PC | PC) at that moment of its session)."""

    def __init__(self, user, name: str, early: float, late: float, seed: int) -> None:
        self.user, self.name = user, name
        self.early, self.late = confusion(early), confusion(late)
        self.rng = random.Random(seed)
        self.n = 0
        self.right = 0
        self.log: list[tuple[str, str, float]] = []

    def label(self, truth: str) -> str:
        position = self.n % SESSION_LENGTH
        matrix = self.late if position >= DRIFT_AFTER else self.early
        row = matrix[truth]
        said = self.rng.choices(list(row), weights=list(row.values()))[0]
        self.n += 1
        self.right += said == truth
        self.log.append((truth, said, matrix["PC"]["PC"]))
        return said


def team(seed: int, users: Sequence | None = None) -> list[SimVetter]:
    """The six vetters of :data:`VETTERS`, seeded as the bench seeds them."""
    users = users or [None] * len(VETTERS)
    return [SimVetter(u, name, early, late, seed * 100 + i)
            for i, ((name, early, late), u) in enumerate(zip(VETTERS, users))]


def replay(truth: Sequence[str], *, minimum: int, confidence: float | None, max_labels: int = 5,
           refit_every: int | None = 300, seed: int = 0, tie_margin: float = 0.02) -> tuple[int, float]:
    """Label ``truth`` (true class per candidate) with the simulated team under the site's rule:
    Dawid-Skene consensus, ``minimum`` labels, then (if ``confidence`` is not None: adaptive) one
    more while the posterior of the top class is below ``confidence``, up to ``max_labels``; the
    reliability refitted every ``refit_every`` labels and at the end. Returns (labels spent,
    consensus accuracy at the end; a tie counts as wrong)."""
    from classifier import reliability as ds
    from classifier.vocabulary import CLASS_CODES
    from vetting.reviews import consensus as rule

    classes = tuple(CLASS_CODES)
    n = len(truth)
    vetters = team(seed)
    votes: list[list[rule.Vote]] = [[] for _ in range(n)]
    reliability = rule.Reliability.unfitted(classes)
    adaptive = confidence is not None

    def decide(i: int) -> rule.Decision | None:
        return rule.decide(votes[i], rule="dawid_skene", tie_margin=tie_margin, reliability=reliability)

    def wanted(i: int) -> int:
        return rule.labels_wanted(decide(i), n_labels=len(votes[i]), required=minimum, adaptive=adaptive,
                                  max_labels=max_labels, confidence=confidence or 1.0)

    def refit() -> rule.Reliability:
        index = {c: k for k, c in enumerate(classes)}
        rows = [(i, v.vetter_id, index[v.label_class]) for i in range(n) for v in votes[i]]
        items, raters, labels = (list(col) for col in zip(*rows))
        fit = ds.dawid_skene(items, raters, labels, n_items=n, n_raters=len(vetters), n_classes=len(classes))
        return rule.Reliability(classes, fit.priors, {w: fit.confusion[w] for w in range(len(vetters))})

    want = [minimum] * n
    order = list(range(n))[::-1]  # the queue's fallback order: newest first
    rng = random.Random(seed)
    active = list(range(len(vetters)))
    spent = 0
    while active:
        rng.shuffle(active)
        for w in list(active):
            cid = next((i for i in order if len(votes[i]) < want[i] and all(v.vetter_id != w for v in votes[i])),
                       None)
            if cid is None:
                active.remove(w)
                continue
            votes[cid].append(rule.Vote(vetters[w].label(truth[cid]), 1.0, "human", vetter_id=w))
            spent += 1
            want[cid] = wanted(cid)
            if refit_every and spent % refit_every == 0:
                reliability = refit()
                want = [wanted(i) if votes[i] else want[i] for i in range(n)]
    reliability = refit()
    right = 0
    for i in range(n):
        decision = decide(i)
        right += decision is not None and decision.label_class == truth[i]
    return spent, right / max(1, n)


def choose_adaptive(truth: Sequence[str], grid: Sequence[tuple[int, float]], *, seeds: Sequence[int],
                    refit_every: int | None, fixed: int = 3, max_labels: int = 5, tie_margin: float = 0.02,
                    ) -> tuple[tuple[int, float] | None, list[tuple]]:
    """The (minimum, confidence) of ``grid`` with the fewest labels (mean over ``seeds``) among those
    at least as accurate as fixed overlap ``fixed`` on *every* seed (the same simulated team and
    draws: a paired comparison, so one lucky seed cannot carry a setting); and the table rows
    ``(name, mean labels per candidate, mean accuracy, seeds at least as accurate)``, fixed first.
    ``max_labels``, ``tie_margin``: the site's settings (``VETTING_OVERLAP_MAX_LABELS``,
    ``VETTING_CONSENSUS["tie_margin"]``)."""
    rule = {"max_labels": max_labels, "tie_margin": tie_margin}
    n = max(1, len(truth))
    base = [replay(truth, minimum=fixed, confidence=None, refit_every=None, seed=s, **rule) for s in seeds]
    rows = [(f"fixed overlap {fixed}", float(np.mean([k for k, _ in base])) / n,
             float(np.mean([a for _, a in base])), len(seeds))]
    best, best_labels = None, float("inf")
    for minimum, conf in grid:
        runs = [replay(truth, minimum=minimum, confidence=conf, refit_every=refit_every, seed=s, **rule)
                for s in seeds]
        labels = float(np.mean([k for k, _ in runs])) / n
        as_good = sum(a >= b for (_, a), (_, b) in zip(runs, base))
        rows.append((f"adaptive min {minimum} conf {conf:g}", labels, float(np.mean([a for _, a in runs])), as_good))
        if as_good == len(seeds) and labels < best_labels:
            best, best_labels = (minimum, conf), labels
    return best, rows
