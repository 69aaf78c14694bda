"""Grouped cross-validation, vetting metrics, calibration and model comparison.

Metric names (keys of :func:`classification_metrics`):

``planet_ap`` / ``planet_auc``  average precision / ROC AUC of ``p_planet`` for planet vs rest
``triage_ap`` / ``triage_auc``  same for ``p_triage`` (planet + eclipsing binaries vs rest)
``recall``                      per-class recall of the arg-max prediction
``ece``                         top-label expected calibration error (see :func:`expected_calibration_error`)
``ece_planet``                  ECE of ``p_planet`` against "is a planet"
``log_loss``, ``accuracy``, ``n``, ``class_counts``, ``reliability`` (planet reliability curve)
"""
from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import numpy as np
from sklearn.metrics import average_precision_score, log_loss, roc_auc_score
from sklearn.model_selection import GroupKFold, StratifiedGroupKFold

from classifier.vocabulary import PLANET_CLASSES, TRIAGE_CLASSES

#: Number of equal-width confidence bins used for ECE and reliability curves.
N_CALIBRATION_BINS = 15


def grouped_splits(
    y: np.ndarray, groups: np.ndarray, *, n_splits: int = 5, random_state: int = 0
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified K-fold splits that never put one star in both train and test.

    Parameters
    ----------
    y : ndarray of shape (n,)
        Class labels.
    groups : ndarray of shape (n,)
        Star identifiers.
    n_splits : int
        Requested folds; reduced to the number of distinct stars and to the size of the
        largest class so that tiny label sets still split (rare classes may then be absent
        from some folds, which the calibrated models tolerate).
    random_state : int

    Returns
    -------
    list of (train_index, test_index)
        Every test fold non-empty; all folds disjoint in ``groups``.

    Raises
    ------
    ValueError
        Fewer than two distinct stars.
    """
    y = np.asarray(y)
    groups = np.asarray(groups)
    n_groups = len(np.unique(groups))
    if n_groups < 2:
        raise ValueError("grouped cross-validation needs at least two distinct stars (groups)")
    _, counts = np.unique(y, return_counts=True)
    k = int(max(2, min(n_splits, n_groups, counts.max())))
    with warnings.catch_warnings():
        # "The least populated class has only 1 member" is expected for tiny label sets.
        warnings.simplefilter("ignore", UserWarning)
        splitter = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=random_state)
        splits = [(tr, te) for tr, te in splitter.split(np.zeros(len(y)), y, groups) if len(te) and len(tr)]
    if len(splits) < 2:
        splits = [(tr, te) for tr, te in GroupKFold(n_splits=min(k, n_groups)).split(np.zeros(len(y)), y, groups)]
    return splits


def planet_probability(proba: np.ndarray, classes: Sequence[str]) -> np.ndarray:
    """Sum of probabilities over :data:`PLANET_CLASSES`; shape (n,)."""
    cols = [i for i, c in enumerate(classes) if c in PLANET_CLASSES]
    return proba[:, cols].sum(axis=1)


def triage_probability(proba: np.ndarray, classes: Sequence[str]) -> np.ndarray:
    """Sum of probabilities over :data:`TRIAGE_CLASSES`; shape (n,)."""
    cols = [i for i, c in enumerate(classes) if c in TRIAGE_CLASSES]
    return proba[:, cols].sum(axis=1)


def reliability_curve(
    y_true: np.ndarray, prob: np.ndarray, n_bins: int = N_CALIBRATION_BINS
) -> dict[str, list[float]]:
    """Reliability-diagram data for a binary event.

    Parameters
    ----------
    y_true : ndarray of shape (n,), bool or {0, 1}
    prob : ndarray of shape (n,)
        Predicted probability of the event.
    n_bins : int
        Equal-width bins over [0, 1]; the last bin includes 1.

    Returns
    -------
    dict
        ``bin_centre`` (midpoints), ``mean_predicted``, ``observed_frequency`` and ``count``
        per non-empty bin (lists of equal length).
    """
    y_true = np.asarray(y_true, dtype=float)
    prob = np.clip(np.asarray(prob, dtype=float), 0.0, 1.0)
    idx = np.minimum((prob * n_bins).astype(int), n_bins - 1)
    out: dict[str, list[float]] = {"bin_centre": [], "mean_predicted": [], "observed_frequency": [], "count": []}
    for b in range(n_bins):
        m = idx == b
        if m.any():
            out["bin_centre"].append((b + 0.5) / n_bins)
            out["mean_predicted"].append(float(prob[m].mean()))
            out["observed_frequency"].append(float(y_true[m].mean()))
            out["count"].append(int(m.sum()))
    return out


def expected_calibration_error(y_true: np.ndarray, prob: np.ndarray, n_bins: int = N_CALIBRATION_BINS) -> float:
    """Expected calibration error of a binary event.

    ECE = sum_b (n_b / n) |mean(prob in b) - frequency of the event in b| over ``n_bins``
    equal-width bins of ``prob`` in [0, 1]. For the top-label ECE of a multi-class model pass
    ``y_true = (argmax == label)`` and ``prob = max probability``.
    """
    curve = reliability_curve(y_true, prob, n_bins)
    n = max(1, sum(curve["count"]))
    bins = zip(curve["count"], curve["mean_predicted"], curve["observed_frequency"])
    return float(sum(c / n * abs(p - o) for c, p, o in bins))


def top_label_ece(y: np.ndarray, proba: np.ndarray, classes: Sequence[str], n_bins: int = N_CALIBRATION_BINS) -> float:
    """Top-label ECE: calibration of the confidence of the arg-max class."""
    classes = np.asarray(classes)
    pred = classes[np.argmax(proba, axis=1)]
    return expected_calibration_error(pred == np.asarray(y), proba.max(axis=1), n_bins)


def _safe(fn, y_true, score) -> float | None:
    y_true = np.asarray(y_true)
    if y_true.min() == y_true.max():
        return None  # undefined when only one outcome occurs
    return float(fn(y_true, score))


def classification_metrics(y: np.ndarray, proba: np.ndarray, classes: Sequence[str]) -> dict:
    """All evaluation figures for labels ``y`` and probabilities ``proba``.

    Parameters
    ----------
    y : ndarray of shape (n,)
        True class codes.
    proba : ndarray of shape (n, n_classes)
        Predicted probabilities, columns in the order of ``classes``.
    classes : sequence of str

    Returns
    -------
    dict
        JSON-serialisable; undefined figures (e.g. AP without any planet) are ``None``.
    """
    y = np.asarray(y, dtype=object)
    classes = list(classes)
    is_planet = np.isin(y, list(PLANET_CLASSES))
    is_triage = np.isin(y, list(TRIAGE_CLASSES))
    p_planet = planet_probability(proba, classes)
    p_triage = triage_probability(proba, classes)
    pred = np.asarray(classes, dtype=object)[np.argmax(proba, axis=1)]
    recall = {c: (float(np.mean(pred[y == c] == c)) if np.any(y == c) else None) for c in classes}
    known = np.isin(y, classes)
    order = np.argsort(classes)  # log_loss expects columns in sorted label order
    try:
        labels = list(np.asarray(classes)[order])
        ll = float(log_loss(y[known], proba[known][:, order], labels=labels)) if known.any() else None
    except ValueError:
        ll = None
    return {
        "n": int(len(y)),
        "class_counts": {c: int(np.sum(y == c)) for c in sorted(set(y.tolist()))},
        "planet_ap": _safe(average_precision_score, is_planet, p_planet),
        "planet_auc": _safe(roc_auc_score, is_planet, p_planet),
        "triage_ap": _safe(average_precision_score, is_triage, p_triage),
        "triage_auc": _safe(roc_auc_score, is_triage, p_triage),
        "recall": recall,
        "accuracy": float(np.mean(pred == y)),
        "log_loss": ll,
        "ece": top_label_ece(y, proba, classes),
        "ece_planet": expected_calibration_error(is_planet, p_planet),
        "ece_bins": N_CALIBRATION_BINS,
        "reliability": reliability_curve(is_planet, p_planet),
    }


def normalized_entropy(proba: np.ndarray) -> np.ndarray:
    """Entropy of each row divided by log(n_classes): 0 (certain) .. 1 (uniform); shape (n,)."""
    p = np.clip(proba, 1e-12, 1.0)
    k = proba.shape[1]
    if k < 2:
        return np.zeros(proba.shape[0])
    return -(p * np.log(p)).sum(axis=1) / np.log(k)


def model_disagreement(family_proba: Mapping[str, np.ndarray]) -> np.ndarray:
    """Disagreement between model families per candidate (query by committee).

    Mean Kullback-Leibler divergence of each family's distribution from the committee mean
    (the generalised Jensen-Shannon divergence), divided by log(n_classes) so it lies in [0, 1].

    Parameters
    ----------
    family_proba : mapping name -> ndarray of shape (n, n_classes)

    Returns
    -------
    ndarray of shape (n,)
        Zero when there are fewer than two families.
    """
    probs = [np.clip(p, 1e-12, 1.0) for p in family_proba.values()]
    if len(probs) < 2:
        return np.zeros(probs[0].shape[0] if probs else 0)
    stack = np.stack(probs)  # (m, n, k)
    mean = stack.mean(axis=0)
    kl = (stack * (np.log(stack) - np.log(mean))).sum(axis=2)  # (m, n)
    k = stack.shape[2]
    return kl.mean(axis=0) / (np.log(k) if k > 1 else 1.0)


#: Metrics where larger is better, checked by :func:`compare`.
HIGHER_IS_BETTER = ("planet_ap", "triage_ap", "planet_auc", "triage_auc")
#: Metrics where smaller is better.
LOWER_IS_BETTER = ("ece",)


def compare(new_metrics: Mapping, old_metrics: Mapping | None, tolerance: float = 0.01) -> tuple[bool, str]:
    """Decide whether a new model is "not worse than" the current one.

    Parameters
    ----------
    new_metrics, old_metrics : mapping
        Outputs of :func:`classification_metrics` (cross-validated). ``old_metrics`` None or empty
        means there is no current model: the new one is accepted.
    tolerance : float
        Allowed absolute drop of each higher-is-better metric (and rise of ECE).

    Returns
    -------
    ok : bool
    reason : str
        Human-readable explanation naming every metric that failed.
    """
    if not old_metrics:
        return True, "no current model to compare with"
    failures, checked = [], []
    for key in HIGHER_IS_BETTER + LOWER_IS_BETTER:
        new, old = new_metrics.get(key), old_metrics.get(key)
        if new is None or old is None:
            continue
        checked.append(key)
        worse = (old - new) if key in HIGHER_IS_BETTER else (new - old)
        if worse > tolerance:
            failures.append(f"{key} {new:.4f} vs {old:.4f}")
    if not checked:
        return False, "no comparable metrics between the new and the current model"
    if failures:
        return False, f"worse than the current model beyond tolerance {tolerance}: " + "; ".join(failures)
    return True, f"not worse within tolerance {tolerance} on " + ", ".join(checked)
