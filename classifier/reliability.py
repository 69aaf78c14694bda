"""Vetter reliability: the Dawid-Skene model of each vetter's confusion matrix, fitted by EM.

Dawid & Skene (1979, "Maximum likelihood estimation of observer error-rates using the EM
algorithm", Appl. Statist. 28, 20) model each rater ``w`` by a confusion matrix
``pi[w, j, l] = P(rater w says l | true class j)`` and the items by class priors ``rho[j]``.
EM alternates

* E-step: ``T[i, j] ∝ rho[j] * prod_{(w, l) labels of item i} pi[w, j, l]`` (posterior of the
  true class of item ``i``);
* M-step: ``pi[w, j, l] ∝ alpha[j, l] + sum_i T[i, j] [w said l on i]``, ``rho ∝ beta + sum_i T[i]``.

Two additions the vetting team needs:

* **fixed truth**: items whose class is known (a curator's decision, a gold label, a
  known-answer candidate) keep a one-hot posterior; they anchor the confusion matrices, which
  is what lets a team learn whom to trust from a handful of settled candidates;
* **a Dirichlet prior** ``alpha`` on each confusion row (more weight on the diagonal), so a
  vetter with few labels starts near "usually right" instead of at a 0/1 matrix, and a class
  nobody has seen yet keeps a defined row.

Plain numpy, no Django; shapes and units in the docstrings. Classes are integer indices into a
caller-given class list; raters and items are integer indices too.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: Dirichlet pseudo-counts of a confusion row: ``DIAGONAL_PRIOR`` on "said the true class",
#: ``OFF_DIAGONAL_PRIOR`` on each other class (a prior accuracy of about 2 / (2 + 0.2 (k - 1))).
DIAGONAL_PRIOR = 2.0
OFF_DIAGONAL_PRIOR = 0.2
#: Pseudo-count of each class in the class priors.
CLASS_PRIOR = 1.0


@dataclass(frozen=True)
class DawidSkeneResult:
    """A fitted model.

    Attributes
    ----------
    posterior : ndarray (n_items, k)
        ``P(true class | labels)`` per item (one-hot for fixed-truth items).
    confusion : ndarray (n_raters, k, k)
        ``confusion[w, j, l] = P(rater w says l | true j)``; rows sum to 1.
    priors : ndarray (k,)
        Class priors ``rho``.
    n_iter : int
        EM iterations run.
    log_likelihood : float
        Marginal log-likelihood of the non-fixed items' labels at the end (nats).
    """

    posterior: np.ndarray
    confusion: np.ndarray
    priors: np.ndarray
    n_iter: int
    log_likelihood: float


def prior_matrix(k: int, *, diagonal: float = DIAGONAL_PRIOR, off_diagonal: float = OFF_DIAGONAL_PRIOR) -> np.ndarray:
    """Dirichlet pseudo-counts (k, k) of one rater's confusion matrix."""
    alpha = np.full((k, k), float(off_diagonal))
    np.fill_diagonal(alpha, float(diagonal))
    return alpha


def _check(items, raters, labels, n_items, n_raters, k):
    items = np.asarray(items, dtype=np.int64)
    raters = np.asarray(raters, dtype=np.int64)
    labels = np.asarray(labels, dtype=np.int64)
    if not (items.shape == raters.shape == labels.shape) or items.ndim != 1:
        raise ValueError(f"items, raters, labels must be 1-D of one length; got {items.shape}, {raters.shape}, "
                         f"{labels.shape}")
    for name, arr, top in (("items", items, n_items), ("raters", raters, n_raters), ("labels", labels, k)):
        if len(arr) and (arr.min() < 0 or arr.max() >= top):
            raise ValueError(f"{name} must lie in 0..{top - 1}")
    return items, raters, labels


def dawid_skene(
    items: Sequence[int], raters: Sequence[int], labels: Sequence[int], *,
    n_items: int, n_raters: int, n_classes: int,
    fixed: Sequence[int] | None = None,
    in_priors: Sequence[bool] | None = None,
    alpha: np.ndarray | None = None,
    max_iter: int = 100, tol: float = 1e-6,
) -> DawidSkeneResult:
    """Fit the Dawid-Skene model by EM.

    Parameters
    ----------
    items, raters, labels : int sequences, length n_obs
        One observation per label: item index, rater index, the class index the rater gave.
    n_items, n_raters, n_classes : int
        Sizes (items or raters without labels are allowed: their posterior is the prior, their
        confusion matrix the Dirichlet prior's mean).
    fixed : int sequence (n_items,), optional
        Known true class index per item, ``-1`` where unknown. Fixed items stay one-hot.
    in_priors : bool sequence (n_items,), optional
        Items that count toward the class priors (default: all). Leave out items chosen *by
        class* -- known-answer checks, planet-heavy by design -- or the priors, and so every
        posterior and the overlap rule's stopping point, lean toward their classes. They still
        train the confusion matrices.
    alpha : ndarray (k, k), optional
        Dirichlet pseudo-counts of every confusion row (default :func:`prior_matrix`).
    max_iter, tol : EM stops after ``max_iter`` rounds or when no posterior moves more than ``tol``.

    Returns
    -------
    DawidSkeneResult
    """
    k = int(n_classes)
    items, raters, labels = _check(items, raters, labels, n_items, n_raters, k)
    alpha = prior_matrix(k) if alpha is None else np.asarray(alpha, dtype=float)
    if alpha.shape != (k, k):
        raise ValueError(f"alpha must have shape ({k}, {k}); got {alpha.shape}")
    fixed_arr = np.full(n_items, -1, dtype=np.int64) if fixed is None else np.asarray(fixed, dtype=np.int64)
    if fixed_arr.shape != (n_items,):
        raise ValueError(f"fixed must have shape ({n_items},); got {fixed_arr.shape}")
    is_fixed = fixed_arr >= 0
    counts_in_priors = np.ones(n_items, dtype=bool) if in_priors is None else np.asarray(in_priors, dtype=bool)
    if counts_in_priors.shape != (n_items,):
        raise ValueError(f"in_priors must have shape ({n_items},); got {counts_in_priors.shape}")
    one_hot = np.zeros((n_items, k))
    one_hot[np.flatnonzero(is_fixed), fixed_arr[is_fixed]] = 1.0

    # Start from the (unweighted) vote shares: the usual initialisation, and what majority vote is.
    posterior = np.zeros((n_items, k))
    np.add.at(posterior, (items, labels), 1.0)
    empty = posterior.sum(axis=1) == 0
    posterior[empty] = 1.0
    posterior /= posterior.sum(axis=1, keepdims=True)
    posterior[is_fixed] = one_hot[is_fixed]
    if is_fixed.any():
        # With known answers, start from the raters as the known answers show them (the first
        # M-step on those items alone): a majority of unreliable raters then cannot pull EM into
        # the optimum where they look right and the reliable one wrong.
        on_fixed = is_fixed[items]
        counts = np.repeat(alpha[None, :, :], n_raters, axis=0)
        np.add.at(counts, (raters[on_fixed], slice(None), labels[on_fixed]), posterior[items[on_fixed]])
        confusion = counts / counts.sum(axis=2, keepdims=True)
        log_post = np.tile(np.log(_priors(posterior, counts_in_priors)), (n_items, 1))
        np.add.at(log_post, items, np.log(confusion[raters, :, labels]))
        posterior = np.exp(log_post - log_post.max(axis=1, keepdims=True))
        posterior /= posterior.sum(axis=1, keepdims=True)
        posterior[is_fixed] = one_hot[is_fixed]

    log_lik = -np.inf
    n_iter = 0
    for _ in range(max_iter):
        n_iter += 1
        # M-step
        counts = np.repeat(alpha[None, :, :], n_raters, axis=0)
        np.add.at(counts, (raters, slice(None), labels), posterior[items])
        confusion = counts / counts.sum(axis=2, keepdims=True)
        priors = _priors(posterior, counts_in_priors)
        # E-step (in logs: an item with many labels would underflow)
        log_post = np.tile(np.log(priors), (n_items, 1))
        np.add.at(log_post, items, np.log(confusion[raters, :, labels]))
        top = log_post.max(axis=1, keepdims=True)
        unnorm = np.exp(log_post - top)
        norm = unnorm.sum(axis=1, keepdims=True)
        new = unnorm / norm
        new[is_fixed] = one_hot[is_fixed]
        log_lik = float((np.log(norm) + top)[~is_fixed].sum())
        moved = float(np.abs(new - posterior).max()) if n_items else 0.0
        posterior = new
        if moved < tol:
            break
    counts = np.repeat(alpha[None, :, :], n_raters, axis=0)
    np.add.at(counts, (raters, slice(None), labels), posterior[items])
    confusion = counts / counts.sum(axis=2, keepdims=True)
    priors = _priors(posterior, counts_in_priors)
    return DawidSkeneResult(posterior, confusion, priors, n_iter, log_lik)


def _priors(posterior: np.ndarray, counted: np.ndarray) -> np.ndarray:
    """Class priors (k,) from the posteriors (n_items, k) of the ``counted`` items, smoothed."""
    priors = posterior[counted].sum(axis=0) + CLASS_PRIOR
    return priors / priors.sum()


def item_posterior(votes: Sequence[tuple[np.ndarray, int]], priors: np.ndarray) -> np.ndarray:
    """Posterior (k,) of one item's true class from its labels under fitted matrices.

    ``votes``: (confusion (k, k) of the rater, class index the rater gave) per label. With no
    votes the result is ``priors``. This is the E-step for one item: what the site uses to
    decide a candidate as each label arrives, between full refits.
    """
    log_p = np.log(np.asarray(priors, dtype=float))
    for confusion, label in votes:
        log_p = log_p + np.log(np.asarray(confusion, dtype=float)[:, int(label)])
    log_p -= log_p.max()
    p = np.exp(log_p)
    return p / p.sum()


def accuracy(confusion: np.ndarray, priors: np.ndarray) -> float:
    """Expected share of a rater's labels that are right: ``sum_j rho[j] pi[j, j]`` (0..1)."""
    confusion = np.asarray(confusion, dtype=float)
    return float(np.dot(np.asarray(priors, dtype=float), np.diag(confusion)))


def balanced_accuracy(confusion: np.ndarray) -> float:
    """Mean per-class recall ``mean_j pi[j, j]`` (0..1): reliability that does not reward a
    rater for always saying the commonest class."""
    return float(np.mean(np.diag(np.asarray(confusion, dtype=float))))


def default_confusion(k: int) -> np.ndarray:
    """The prior-mean confusion matrix (k, k) of a rater the model has not seen yet."""
    alpha = prior_matrix(k)
    return alpha / alpha.sum(axis=1, keepdims=True)
