"""The consensus rule: which label a candidate gets from its labels. Pure, no database.

Rule, in order (configured by ``settings.VETTING_CONSENSUS``):

1. A curator's decision (from a resolved dispute or an override) wins, if ``curator_overrides``.
2. Else a label marked gold wins (the most recent one).
3. Else a weighted majority of the current human labels: each label weighs its confidence
   (0..1) when ``weight_by_confidence``, else 1. Needs at least ``min_labels`` labels. A tie
   is broken by vocabulary order and flagged ``needs_review``.
4. Else, if catalog labels are enabled, the catalog disposition.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from classifier.vocabulary import CLASS_CODES


@dataclass(frozen=True)
class Vote:
    label_class: str
    confidence: float
    source: str  # human, catalog, curator
    is_gold: bool = False
    excluded: bool = False


@dataclass(frozen=True)
class Decision:
    label_class: str
    agreement: float
    n_labels: int
    method: str
    needs_review: bool


def decide(
    votes: Iterable[Vote],
    *,
    min_labels: int = 1,
    curator_overrides: bool = True,
    weight_by_confidence: bool = True,
    include_catalog: bool = False,
) -> Decision | None:
    """Apply the consensus rule to a candidate's current labels; None if nothing decides."""
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
        weights: dict[str, float] = defaultdict(float)
        for vote in humans:
            weights[vote.label_class] += vote.confidence if weight_by_confidence else 1.0
        total = sum(weights.values())
        if total <= 0:  # every label had confidence 0: count them instead
            weights = defaultdict(float)
            for vote in humans:
                weights[vote.label_class] += 1.0
            total = float(len(humans))
        best = max(weights.values())
        winners = [c for c in CLASS_CODES if weights.get(c, 0.0) == best]
        return Decision(winners[0], best / total, len(humans), "weighted_majority", len(winners) > 1)
    if include_catalog:
        for vote in votes:
            if vote.source == "catalog":
                return Decision(vote.label_class, 1.0, 0, "catalog", False)
    return None
