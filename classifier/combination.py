"""How the calibrated model families of :class:`classifier.training.VettingEnsemble` are combined.

Three combinations of the families' calibrated probabilities (each (n, k)):

``mean``      the plain average. Averaging calibrated members is under-confident (it pulls
              every row towards the middle), but it is the yardstick: the ensemble must never
              be worse than it.
``tempered``  the average, then one temperature ``T``: ``p ~ mean ** (1 / T)``, renormalised.
              One parameter fixes the average's under-confidence at small label sets; the
              arg-max class is the average's, so accuracy equals the average's.
``stack``     a multinomial logistic regression on the log probabilities of the families
              (can beat the average when one family is better on some classes, and can lose
              to it at small label sets, where it overfits).
``shrunk``    the tempered average shrunk towards the class frequencies of the labels:
              ``p = (1 - a) * tempered + a * prior`` with ``0 <= a <= 0.5``, ``T`` and ``a`` fitted
              together by log loss. With a few hundred labels the calibrators are fitted on few
              examples and the members are confidently wrong on rare look-alikes; the prior term
              caps that confidence (shrinkage of the class probabilities towards the base rates,
              as in additive smoothing / Bayesian shrinkage of a classifier's output; cf. Kull
              et al. 2019, "Beyond temperature scaling", for few-parameter multi-class
              calibration maps). With many labels the fit drives ``a`` to ~0 (the tempered average).

:func:`choose_combination` picks one from cross-fitted out-of-fold probabilities of each
(the second level of the ensemble is itself cross-fitted): the lowest log loss, except that a
combination less accurate than the plain average is never chosen.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from scipy.optimize import minimize_scalar
from sklearn.linear_model import LogisticRegression

COMBINATIONS = ("mean", "tempered", "stack", "shrunk")
#: Largest weight of the class prior in ``shrunk``.
MAX_PRIOR_WEIGHT = 0.5


def _log(P: np.ndarray) -> np.ndarray:
    return np.log(np.clip(P, 1e-6, 1.0))


def _softmax_rows(Z: np.ndarray) -> np.ndarray:
    Z = Z - Z.max(axis=1, keepdims=True)
    E = np.exp(Z)
    return E / E.sum(axis=1, keepdims=True)


def _nll(P: np.ndarray, y_idx: np.ndarray) -> float:
    return float(-np.mean(np.log(np.clip(P[np.arange(len(y_idx)), y_idx], 1e-12, 1.0))))


class Combiner:
    """One fitted combination of family probabilities.

    Parameters
    ----------
    method : {"mean", "tempered", "stack"}
    names : sequence of str
        Families in the order their probabilities are combined.
    random_state : int

    Attributes (after :meth:`fit`)
    ------------------------------
    temperature_ : float
        ``tempered`` and ``shrunk`` (1.0 otherwise); > 1 softens, < 1 sharpens the average.
    prior_weight_ : float
        ``shrunk`` only (0.0 otherwise): weight ``a`` of the class prior.
    prior_ : ndarray (n_classes,)
        Class frequencies of the fitting labels, Laplace-smoothed (``shrunk``).
    stacker_ : LogisticRegression or None
        ``stack`` only.
    """

    def __init__(self, method: str = "mean", names: Sequence[str] = (), random_state: int = 0):
        if method not in COMBINATIONS:
            raise ValueError(f"combination must be one of {', '.join(COMBINATIONS)}; got {method!r}")
        self.method = method
        self.names = list(names)
        self.random_state = random_state

    def fit(self, family_proba: Mapping[str, np.ndarray], y_idx: np.ndarray, n_classes: int) -> Combiner:
        """Fit on calibrated family probabilities (name -> (n, k)) and class indices ``y_idx`` (n,)."""
        self.n_classes_ = int(n_classes)
        self.temperature_ = 1.0
        self.prior_weight_ = 0.0
        y_idx = np.asarray(y_idx, dtype=int)
        self.prior_ = (np.bincount(y_idx, minlength=self.n_classes_) + 1.0) / (len(y_idx) + self.n_classes_)
        self.stacker_ = None
        if self.method == "tempered":
            logp = _log(self._mean(family_proba))
            res = minimize_scalar(lambda t: _nll(_softmax_rows(logp / t), y_idx), bounds=(0.2, 5.0),
                                  method="bounded", options={"xatol": 1e-3})
            self.temperature_ = float(res.x)
        elif self.method == "shrunk":
            self.temperature_, self.prior_weight_ = _fit_shrunk(_log(self._mean(family_proba)), y_idx, self.prior_)
        elif self.method == "stack":
            if len(np.unique(y_idx)) < 2:
                self.method = "mean"  # nothing to learn; keeps the average
            else:
                self.stacker_ = LogisticRegression(C=1.0, max_iter=2000, random_state=self.random_state).fit(
                    self._stack_features(family_proba), y_idx)
        return self

    def _mean(self, family_proba: Mapping[str, np.ndarray]) -> np.ndarray:
        return np.mean([family_proba[n] for n in self.names], axis=0)

    def _stack_features(self, family_proba: Mapping[str, np.ndarray]) -> np.ndarray:
        return np.hstack([_log(family_proba[n]) for n in self.names])

    def predict_proba(self, family_proba: Mapping[str, np.ndarray]) -> np.ndarray:
        """Combined probabilities (n, n_classes)."""
        if self.method == "stack" and self.stacker_ is not None:
            inner = self.stacker_.predict_proba(self._stack_features(family_proba))
            out = np.zeros((inner.shape[0], self.n_classes_))
            out[:, np.asarray(self.stacker_.classes_, dtype=int)] = inner
            return out
        mean = self._mean(family_proba)
        if self.method == "tempered":
            return _softmax_rows(_log(mean) / self.temperature_)
        if self.method == "shrunk":
            return _shrink(_log(mean), self.temperature_, self.prior_weight_, self.prior_)
        return mean


def _shrink(logp: np.ndarray, temperature: float, weight: float, prior: np.ndarray) -> np.ndarray:
    return (1.0 - weight) * _softmax_rows(logp / temperature) + weight * prior[None, :]


def _fit_shrunk(logp: np.ndarray, y_idx: np.ndarray, prior: np.ndarray) -> tuple[float, float]:
    """(T, a) minimising the log loss of :func:`_shrink`; T in [0.2, 5], a in [0, MAX_PRIOR_WEIGHT].

    Coordinate descent over the two bounded scalars (each step a 1-D bounded search, so no
    gradient and no failure mode beyond the bounds); starts from the tempered average (a = 0).
    """
    t, a = 1.0, 0.0
    for _ in range(4):
        t = float(minimize_scalar(lambda v, a=a: _nll(_shrink(logp, v, a, prior), y_idx), bounds=(0.2, 5.0),
                                  method="bounded", options={"xatol": 1e-3}).x)
        a = float(minimize_scalar(lambda v, t=t: _nll(_shrink(logp, t, v, prior), y_idx),
                                  bounds=(0.0, MAX_PRIOR_WEIGHT), method="bounded", options={"xatol": 1e-4}).x)
    return t, a


def combination_scores(oof: Mapping[str, np.ndarray], y_idx: np.ndarray) -> dict[str, dict[str, float]]:
    """Out-of-fold log loss and accuracy of each combination: ``{method: {"log_loss", "accuracy"}}``."""
    y_idx = np.asarray(y_idx, dtype=int)
    return {m: {"log_loss": _nll(P, y_idx), "accuracy": float(np.mean(np.argmax(P, axis=1) == y_idx))}
            for m, P in oof.items()}


def choose_combination(oof: Mapping[str, np.ndarray], y_idx: np.ndarray) -> tuple[str, dict]:
    """The combination with the lowest out-of-fold log loss among those at least as accurate
    as the plain average (``mean`` is always eligible); returns (method, scores)."""
    scores = combination_scores(oof, y_idx)
    base = scores["mean"]["accuracy"] if "mean" in scores else -np.inf
    eligible = [m for m in oof if m == "mean" or scores[m]["accuracy"] >= base - 1e-12]
    # Ties go to the simpler combination (order of COMBINATIONS).
    best = min(eligible, key=lambda m: (round(scores[m]["log_loss"], 6), COMBINATIONS.index(m)))
    return best, scores
