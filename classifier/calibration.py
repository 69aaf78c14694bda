"""Few-parameter calibration maps of one family's class probabilities (n, k) -> (n, k).

Both act on the log probabilities ``L = log P`` of a family (its out-of-fold predictions) and
return ``softmax(z)``:

``temperature``  ``z = L / T``: one parameter (Guo et al. 2017, "On calibration of modern neural
                 networks"). Keeps each row's top class; fixes a family that is uniformly over-
                 or under-confident, and cannot overfit a few hundred labels.
``vector``       ``z = a * L + b`` with one scale ``a_j`` and one bias ``b_j`` per class ("vector
                 scaling", Guo et al. 2017; a diagonal Dirichlet calibration map, Kull et al.
                 2019). The biases undo the class-prior shift of families trained with balanced
                 class weights; 2k parameters, ridge-penalised towards the identity map
                 (``a = 1``, ``b = 0``) so that a rare class seen a few times stays put.

The full multinomial logistic map on ``L`` (``k * (k + 1)`` parameters, the ``sigmoid`` of
:class:`classifier.training.ProbabilityCalibrator`) and one-vs-rest isotonic regression stay
there; :class:`classifier.training.VettingEnsemble` chooses among all four by cross-validation.
"""
from __future__ import annotations

import numpy as np
from scipy.optimize import minimize
from scipy.special import log_softmax

#: Ridge weight of ``vector`` on the deviation from the identity map, in units of one row's log
#: loss (a Gaussian prior of variance 1/2 on each scale and bias): it keeps the fit finite and near
#: the identity when a class has few or no examples, and fades as labels accumulate.
VECTOR_RIDGE = 1.0
#: Bound of the ``vector`` biases (logits): a class absent from the fitting rows is not driven
#: to probability 0.
MAX_BIAS = 10.0
#: Bounds of the temperature (and of the ``vector`` scales, as 1/T).
TEMPERATURE_BOUNDS = (0.05, 20.0)


def log_proba(P: np.ndarray) -> np.ndarray:
    """``log P`` clipped at 1e-6 (a zero probability of a fold model stays finite)."""
    return np.log(np.clip(P, 1e-6, 1.0))


def _nll_and_grad(z: np.ndarray, Y: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean negative log likelihood of ``softmax(z)`` (n, k) against one-hot ``Y`` and d/dz."""
    logp = log_softmax(z, axis=1)
    n = len(Y)
    return float(-np.sum(Y * logp) / n), (np.exp(logp) - Y) / n


class ScalingCalibrator:
    """Temperature or vector scaling of one family's probabilities.

    Parameters
    ----------
    method : {"temperature", "vector"}

    Attributes (after :meth:`fit`)
    ------------------------------
    scale_ : ndarray (k,)
        Multiplier of each class's log probability (``1 / T`` repeated for ``temperature``).
    bias_ : ndarray (k,)
        Added logit per class (zeros for ``temperature``).
    temperature_ : float
        ``1 / mean(scale_)``: > 1 means the family was over-confident.
    """

    def __init__(self, method: str = "temperature"):
        if method not in ("temperature", "vector"):
            raise ValueError(f"method must be temperature or vector; got {method!r}")
        self.method = method

    def fit(self, P: np.ndarray, y_idx: np.ndarray, n_classes: int) -> ScalingCalibrator:
        """Fit on probabilities ``P`` (n, k) and class indices ``y_idx`` (n,) by log loss."""
        L = log_proba(np.asarray(P, dtype=float))
        y_idx = np.asarray(y_idx, dtype=int)
        k = int(n_classes)
        Y = np.zeros((len(y_idx), k))
        Y[np.arange(len(y_idx)), y_idx] = 1.0
        lo, hi = 1.0 / TEMPERATURE_BOUNDS[1], 1.0 / TEMPERATURE_BOUNDS[0]
        if self.method == "temperature":
            def f(w):
                loss, g = _nll_and_grad(w[0] * L, Y)
                return loss, np.array([np.sum(g * L)])

            res = minimize(f, np.array([1.0]), jac=True, method="L-BFGS-B", bounds=[(lo, hi)])
            self.scale_ = np.full(k, float(res.x[0]))
            self.bias_ = np.zeros(k)
        else:
            lam = VECTOR_RIDGE / max(1, len(y_idx))

            def f(w):
                a, b = w[:k], w[k:]
                loss, g = _nll_and_grad(L * a + b, Y)
                loss += lam * (np.sum((a - 1.0) ** 2) + np.sum(b ** 2))
                grad = np.concatenate([np.sum(g * L, axis=0) + 2 * lam * (a - 1.0), g.sum(axis=0) + 2 * lam * b])
                return loss, grad

            res = minimize(f, np.concatenate([np.ones(k), np.zeros(k)]), jac=True, method="L-BFGS-B",
                           bounds=[(lo, hi)] * k + [(-MAX_BIAS, MAX_BIAS)] * k)
            self.scale_, self.bias_ = res.x[:k].copy(), res.x[k:].copy()
        self.n_classes_ = k
        self.temperature_ = float(1.0 / np.mean(self.scale_))
        return self

    def predict_proba(self, P: np.ndarray) -> np.ndarray:
        """Calibrated probabilities (n, k); rows sum to 1."""
        return np.exp(log_softmax(log_proba(np.asarray(P, dtype=float)) * self.scale_ + self.bias_, axis=1))
