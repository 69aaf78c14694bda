"""The consensus rule and the overlap rule: which label a candidate gets from its labels, and
whether it wants another one. Pure, no database.

Consensus, in order (configured by ``settings.VETTING_CONSENSUS``):

1. A curator's decision (from a resolved dispute, an override or a settled tie) wins, if
   ``curator_overrides``.
2. Else a label marked gold wins (the most recent one).
3. Else, with at least ``min_labels`` current vetter labels, the ``rule``:

   * ``"dawid_skene"``: the posterior of the true class given each vetter's estimated confusion
     matrix (:class:`Reliability`, fitted over all labels by ``services.reliability_refit``;
     a vetter the fit has not seen yet counts with the prior matrix). A careless vetter's
     label moves the posterior less than an expert's.
   * ``"weighted_majority"``: each label weighs its confidence (0..1) when
     ``weight_by_confidence``, else 1.

   Two classes within ``tie_margin`` of each other (posterior, or weight share) are a **tie**:
   no class is chosen (never the first class of the vocabulary), the decision has
   ``label_class=None`` and ``needs_review``; the candidate waits for another label or a curator.
4. Else, if catalog labels are enabled, the catalog disposition.

Overlap (:func:`labels_wanted`): a candidate wants ``required`` independent vetter labels; with
adaptive overlap one more while the labels disagree or the consensus is less sure than the
confidence target, up to a maximum.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

from classifier import reliability as ds
from classifier.vocabulary import CLASS_CODES

RULES = ("dawid_skene", "weighted_majority")
#: Methods that settle a candidate: no vetter label changes them.
SETTLED_METHODS = frozenset({"curator", "gold"})


@dataclass(frozen=True)
class Vote:
    label_class: str
    confidence: float
    source: str  # human, catalog, curator
    is_gold: bool = False
    excluded: bool = False
    vetter_id: int | None = None


@dataclass(frozen=True)
class Decision:
    """``label_class`` None means a tie that a curator (or another label) must break."""

    label_class: str | None
    agreement: float  # share of weight, or posterior probability, of the winning class (0..1)
    n_labels: int
    method: str
    needs_review: bool
    posterior: dict[str, float] = field(default_factory=dict)

    @property
    def is_tie(self) -> bool:
        return self.label_class is None

    @property
    def settled(self) -> bool:
        return self.method in SETTLED_METHODS


@dataclass(frozen=True)
class Reliability:
    """Fitted confusion matrices: ``matrices[vetter_id]`` (k, k) over ``classes`` (rows: true
    class, columns: the class the vetter gave), class ``priors`` (k,)."""

    classes: tuple[str, ...]
    priors: np.ndarray
    matrices: Mapping[int, np.ndarray]

    @classmethod
    def unfitted(cls, classes: tuple[str, ...] = CLASS_CODES) -> Reliability:
        """Before any fit: uniform priors and every vetter at the prior matrix (equal weights)."""
        return cls(tuple(classes), np.full(len(classes), 1.0 / len(classes)), {})

    def matrix(self, vetter_id: int | None) -> np.ndarray:
        found = self.matrices.get(vetter_id) if vetter_id is not None else None
        return found if found is not None else ds.default_confusion(len(self.classes))

    def posterior(self, votes: Iterable[Vote]) -> dict[str, float]:
        """``{class: P(true class | these vetter votes)}`` (one E-step, no refit)."""
        index = {c: i for i, c in enumerate(self.classes)}
        p = ds.item_posterior([(self.matrix(v.vetter_id), index[v.label_class]) for v in votes
                               if v.label_class in index], self.priors)
        return {c: float(x) for c, x in zip(self.classes, p)}


def _ranked(scores: Mapping[str, float]) -> list[tuple[str, float]]:
    """Classes by score, high first; equal scores in vocabulary order (only for a stable listing:
    a tie is detected before any order matters)."""
    order = {c: i for i, c in enumerate(CLASS_CODES)}
    return sorted(scores.items(), key=lambda kv: (-kv[1], order.get(kv[0], len(order))))


def _vote_decision(scores: Mapping[str, float], n: int, method: str, tie_margin: float,
                   posterior: dict[str, float] | None = None) -> Decision:
    total = sum(scores.values())
    shares = {c: s / total for c, s in scores.items()} if total > 0 else {}
    ranked = _ranked(shares)
    best_class, best = ranked[0]
    runner_up = ranked[1][1] if len(ranked) > 1 else 0.0
    if best - runner_up <= tie_margin:
        return Decision(None, best, n, method, True, posterior or {})
    return Decision(best_class, best, n, method, False, posterior or {})


def decide(
    votes: Iterable[Vote],
    *,
    rule: str = "weighted_majority",
    min_labels: int = 1,
    curator_overrides: bool = True,
    weight_by_confidence: bool = True,
    include_catalog: bool = False,
    tie_margin: float = 0.0,
    reliability: Reliability | None = None,
) -> Decision | None:
    """Apply the consensus rule to a candidate's current labels; None if nothing decides."""
    if rule not in RULES:
        raise ValueError(f"unknown consensus rule {rule!r}; expected one of {', '.join(RULES)}")
    votes = [v for v in votes if not v.excluded]
    humans = [v for v in votes if v.source == "human"]
    if curator_overrides:
        for vote in votes:
            if vote.source == "curator":
                return Decision(vote.label_class, 1.0, len(humans), "curator", False)
    for vote in votes:
        if vote.is_gold:
            return Decision(vote.label_class, 1.0, len(humans), "gold", False)
    if len(humans) >= max(1, min_labels):
        if rule == "dawid_skene":
            posterior = (reliability or Reliability.unfitted()).posterior(humans)
            return _vote_decision(posterior, len(humans), "dawid_skene", tie_margin, posterior)
        weights: dict[str, float] = defaultdict(float)
        for vote in humans:
            weights[vote.label_class] += vote.confidence if weight_by_confidence else 1.0
        if sum(weights.values()) <= 0:  # every label had confidence 0: count them instead
            weights = defaultdict(float)
            for vote in humans:
                weights[vote.label_class] += 1.0
        return _vote_decision(weights, len(humans), "weighted_majority", tie_margin)
    if include_catalog:
        for vote in votes:
            if vote.source == "catalog":
                return Decision(vote.label_class, 1.0, 0, "catalog", False)
    return None


def labels_wanted(
    decision: Decision | None, *, n_labels: int, required: int, adaptive: bool, max_labels: int,
    confidence: float,
) -> int:
    """How many independent vetter labels the candidate wants now (>= ``n_labels`` when done).

    ``required`` labels always; with ``adaptive``, one more (up to ``max(max_labels,
    required)``) while the decision is a tie or its agreement is below ``confidence``: under
    weighted majority the winning weight share (below 1 exactly when labels disagree), under
    Dawid-Skene the posterior probability (low when labels disagree or come from vetters the
    fit finds unreliable). A settled candidate (curator, gold) wants no more than it has.
    """
    if decision is not None and decision.settled:
        return n_labels
    if n_labels < required or not adaptive:
        return max(required, 0)
    unsure = decision is None or decision.is_tie or decision.agreement < confidence
    if unsure and n_labels < max(max_labels, required):
        return n_labels + 1
    return n_labels


def decide_configured(votes: Iterable[Vote], *, conf: Mapping, include_catalog: bool,
                      reliability: Reliability | None = None) -> Decision | None:
    """:func:`decide` with the options of a ``VETTING_CONSENSUS``-shaped mapping ``conf`` (the
    one place that maps the setting onto the rule; services and bulk imports both call it)."""
    return decide(
        votes, rule=conf.get("rule", "weighted_majority"), min_labels=conf.get("min_labels", 1),
        curator_overrides=conf.get("curator_overrides", True),
        weight_by_confidence=conf.get("weight_by_confidence", True), include_catalog=include_catalog,
        tie_margin=float(conf.get("tie_margin", 0.0)), reliability=reliability,
    )
