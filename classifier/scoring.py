"""Scores of candidates by a fitted ensemble: what the site stores per candidate.

:func:`score` turns a fitted :class:`classifier.training.VettingEnsemble` and a design matrix
into calibrated probabilities, ``p_planet``, ``p_triage``, uncertainty (normalised entropy),
margin and committee disagreement (:class:`Scores`); :func:`scores_from_proba` builds the same
from probabilities alone. Nothing here imports Django.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from classifier.evaluation import normalized_entropy, planet_probability, top_class_disagreement, triage_probability


@dataclass
class Scores:
    """Scores of n candidates by a fitted :class:`~classifier.training.VettingEnsemble`.

    Attributes
    ----------
    classes : list of str, length k
    proba : ndarray (n, k)
        Calibrated ensemble probabilities.
    predicted : ndarray (n,) of str
    p_planet, p_triage : ndarray (n,)
        Sums over PLANET_CLASSES / TRIAGE_CLASSES.
    uncertainty : ndarray (n,)
        Normalised entropy of ``proba`` in [0, 1].
    least_confidence : ndarray (n,)
        1 - max probability.
    margin : ndarray (n,)
        Top probability minus the second (small = uncertain).
    disagreement : ndarray (n,)
        Share of the committee's members whose top class is not the members' most-voted class
        (:func:`classifier.evaluation.top_class_disagreement`): 0 unanimous, 1/3 when one of
        three predicts another class.
    family_proba : dict name -> ndarray (n, k)
        Calibrated probabilities of each model family.
    committee_proba : dict name -> ndarray (n, k)
        The committee ``disagreement`` is measured on: the families, or a one-family model's fold
        models (:meth:`classifier.training.VettingEnsemble.committee_proba`); default the families.
    """

    classes: list[str]
    proba: np.ndarray
    predicted: np.ndarray
    p_planet: np.ndarray
    p_triage: np.ndarray
    uncertainty: np.ndarray
    least_confidence: np.ndarray
    margin: np.ndarray
    disagreement: np.ndarray
    family_proba: dict[str, np.ndarray] = field(default_factory=dict)
    committee_proba: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.predicted)

    def records(self, candidate_ids: Sequence[str] | None = None) -> list[dict]:
        """One JSON-serialisable dict per candidate (what the site stores as a Prediction)."""
        ids = list(candidate_ids) if candidate_ids is not None else [None] * len(self)
        out = []
        for i, cid in enumerate(ids):
            out.append({
                "candidate_id": cid,
                "probabilities": {c: float(self.proba[i, j]) for j, c in enumerate(self.classes)},
                "predicted": str(self.predicted[i]),
                "p_planet": float(self.p_planet[i]),
                "p_triage": float(self.p_triage[i]),
                "uncertainty": float(self.uncertainty[i]),
                "disagreement": float(self.disagreement[i]),
                "family_probabilities": {
                    name: {c: float(p[i, j]) for j, c in enumerate(self.classes)}
                    for name, p in self.family_proba.items()
                },
            })
        return out


def scores_from_proba(proba: np.ndarray, classes: Sequence[str], family_proba: dict | None = None,
                      committee_proba: dict | None = None) -> Scores:
    """Build :class:`Scores` from ensemble (and optional per-family and committee) probabilities;
    the committee defaults to the families."""
    classes = list(classes)
    proba = np.asarray(proba, dtype=float)
    srt = np.sort(proba, axis=1)
    family_proba = dict(family_proba or {})
    committee_proba = dict(committee_proba or family_proba)
    return Scores(
        classes=classes,
        proba=proba,
        predicted=np.asarray(classes, dtype=object)[np.argmax(proba, axis=1)],
        p_planet=planet_probability(proba, classes),
        p_triage=triage_probability(proba, classes),
        uncertainty=normalized_entropy(proba),
        least_confidence=1.0 - srt[:, -1],
        margin=srt[:, -1] - (srt[:, -2] if proba.shape[1] > 1 else 0.0),
        disagreement=top_class_disagreement(committee_proba) if committee_proba else np.zeros(len(proba)),
        family_proba=family_proba,
        committee_proba=committee_proba,
    )


def score(model, X) -> Scores:
    """Score candidates: probabilities, p_planet, p_triage, uncertainty, disagreement.

    Parameters
    ----------
    model : fitted :class:`classifier.training.VettingEnsemble` (or any model with
        ``committee_proba(X)``, ``combine_proba(family_proba)`` and ``classes_``)
    X : ndarray (n, d)
        Built by :func:`classifier.dataset.design_matrix` with the model's feature names.
    """
    fam, committee = model.committee_proba(X)
    return scores_from_proba(model.combine_proba(fam), model.classes_, fam, committee)


__all__ = ["Scores", "score", "scores_from_proba"]
