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


def top_class_disagreement(family_proba: Mapping[str, np.ndarray]) -> np.ndarray:
    """Share of model families whose top class is not the committee's most-voted class.

    This is what a vetter reads as "the models disagree": 0 when every family predicts the
    same class; with three families, 1/3 when one of them predicts another class and 2/3 when
    all three differ. (The soft measure, :func:`model_disagreement`, stays near 0 when one
    family's top class differs by a hair, which read as "agreement" on the candidate page.)

    Parameters
    ----------
    family_proba : mapping name -> ndarray of shape (n, n_classes)
        As in :func:`model_disagreement`.

    Returns
    -------
    ndarray of shape (n,)
        In [0, 1 - 1/m] for m families; zero when there are fewer than two families.
    """
    probs = list(family_proba.values())
    if len(probs) < 2:
        return np.zeros(probs[0].shape[0] if probs else 0)
    votes = np.stack([np.argmax(p, axis=1) for p in probs])  # (m, n)
    m, n = votes.shape
    k = probs[0].shape[1]
    counts = np.zeros((n, k), dtype=int)
    for row in votes:
        counts[np.arange(n), row] += 1
    return 1.0 - counts.max(axis=1) / m


# --------------------------------------------------------------------------------------------
# Paired comparison of two models on the same labeled rows
# --------------------------------------------------------------------------------------------

#: Metrics of the paired promotion test: (key, larger is better).
PAIRED_METRICS: tuple[tuple[str, bool], ...] = (
    ("planet_ap", True), ("triage_ap", True), ("accuracy", True), ("ece", False),
)


def _weighted_ap(y_true: np.ndarray, score: np.ndarray, w: np.ndarray) -> float | None:
    if not (w > 0).any():
        return None
    pos = float((w * y_true).sum())
    if pos <= 0 or pos >= float(w.sum()):
        return None
    return float(average_precision_score(y_true, score, sample_weight=w))


def _weighted_ece(correct: np.ndarray, conf: np.ndarray, w: np.ndarray, n_bins: int = N_CALIBRATION_BINS) -> float:
    idx = np.minimum((np.clip(conf, 0.0, 1.0) * n_bins).astype(int), n_bins - 1)
    total = float(w.sum())
    wp = np.bincount(idx, weights=w * conf, minlength=n_bins)
    wo = np.bincount(idx, weights=w * correct, minlength=n_bins)
    return float(np.abs(wp - wo).sum() / total) if total > 0 else 0.0


def _paired_figures(y: np.ndarray, proba: np.ndarray, classes: Sequence[str], w: np.ndarray) -> dict:
    """planet AP, triage AP, accuracy and top-label ECE of ``proba`` under row weights ``w``."""
    is_planet = np.isin(y, list(PLANET_CLASSES)).astype(float)
    is_triage = np.isin(y, list(TRIAGE_CLASSES)).astype(float)
    pred = np.asarray(classes, dtype=object)[np.argmax(proba, axis=1)]
    correct = (pred == y).astype(float)
    total = float(w.sum())
    return {
        "planet_ap": _weighted_ap(is_planet, planet_probability(proba, classes), w),
        "triage_ap": _weighted_ap(is_triage, triage_probability(proba, classes), w),
        "accuracy": float((w * correct).sum() / total) if total > 0 else None,
        "ece": _weighted_ece(correct, proba.max(axis=1), w),
    }


def align_proba(proba: np.ndarray, classes: Sequence[str], target: Sequence[str]) -> np.ndarray:
    """Columns of ``proba`` (n, len(classes)) rearranged to ``target`` classes (absent ones 0)."""
    proba = np.asarray(proba, dtype=float)
    out = np.zeros((proba.shape[0], len(target)))
    for j, c in enumerate(target):
        if c in classes:
            out[:, j] = proba[:, list(classes).index(c)]
    return out


def paired_compare(
    y: np.ndarray,
    proba_new: np.ndarray,
    proba_old: np.ndarray,
    classes: Sequence[str],
    *,
    groups: np.ndarray | None = None,
    tolerance: float = 0.01,
    n_boot: int = 300,
    confidence: float = 0.9,
    seed: int = 0,
) -> tuple[bool, str, dict]:
    """Is the new model not worse than the old one on the same labeled rows?

    Both models' probabilities must be out-of-sample for every row (the new model's
    out-of-fold predictions; the old model's own out-of-fold predictions for rows it trained
    on and its predictions for the rest). The rows are resampled by star (``groups``) ``n_boot``
    times; on each resample both models are scored, so the interval is of the paired
    difference new - old. A metric fails only when its whole ``confidence`` interval is worse
    than ``-tolerance`` (larger-is-better metrics) or than ``+tolerance`` (ECE): the data must
    show the new model worse by more than the tolerance, not merely fail to show it better.

    Parameters
    ----------
    y : ndarray (n,)
        Current labels (class codes).
    proba_new, proba_old : ndarray (n, k)
        Probabilities of the two models, both with columns ``classes``
        (see :func:`align_proba`).
    classes : sequence of str, length k
    groups : ndarray (n,), optional
        Star ids: resampling draws whole stars. Default: every row its own group.
    tolerance : float
        Allowed absolute loss of each metric.
    n_boot : int
        Bootstrap resamples.
    confidence : float
        Two-sided level of the interval (0.9: 5th to 95th percentile).
    seed : int

    Returns
    -------
    ok : bool
    reason : str
        Every checked metric with both values, the difference and its interval.
    details : dict
        ``{metric: {"new", "old", "diff", "low", "high", "failed"}}`` (JSON-ready), plus ``"n"``.
    """
    y = np.asarray(y, dtype=object)
    classes = list(classes)
    groups = np.arange(len(y)) if groups is None else np.asarray(groups)
    _, g_idx = np.unique(groups, return_inverse=True)
    n_groups = int(g_idx.max()) + 1 if len(g_idx) else 0
    ones = np.ones(len(y))
    point_new = _paired_figures(y, proba_new, classes, ones)
    point_old = _paired_figures(y, proba_old, classes, ones)
    rng = np.random.default_rng(seed)
    diffs: dict[str, list[float]] = {key: [] for key, _ in PAIRED_METRICS}
    for _ in range(n_boot):
        w = np.bincount(rng.integers(0, n_groups, n_groups), minlength=n_groups)[g_idx].astype(float)
        keep = w > 0
        a = _paired_figures(y[keep], proba_new[keep], classes, w[keep])
        b = _paired_figures(y[keep], proba_old[keep], classes, w[keep])
        for key, _ in PAIRED_METRICS:
            if a[key] is not None and b[key] is not None:
                diffs[key].append(a[key] - b[key])
    alpha = (1.0 - confidence) / 2.0
    details: dict = {"n": int(len(y)), "n_boot": int(n_boot), "confidence": confidence, "tolerance": tolerance}
    failures, parts = [], []
    for key, higher in PAIRED_METRICS:
        new, old = point_new[key], point_old[key]
        if new is None or old is None or len(diffs[key]) < max(10, n_boot // 2):
            continue
        low, high = (float(v) for v in np.quantile(diffs[key], [alpha, 1.0 - alpha]))
        failed = high < -tolerance if higher else low > tolerance
        details[key] = {"new": new, "old": old, "diff": new - old, "low": low, "high": high, "failed": bool(failed)}
        text = f"{key} {new:.3f} vs {old:.3f} ({new - old:+.3f}, {100 * confidence:.0f}% CI {low:+.3f}..{high:+.3f})"
        parts.append(text)
        if failed:
            failures.append(text)
    if not parts:
        return False, "no metric could be compared on the shared labels", details
    if failures:
        return False, f"worse beyond tolerance {tolerance} on the same {len(y)} labels: " + "; ".join(failures), details
    return True, f"not worse within tolerance {tolerance} on the same {len(y)} labels: " + "; ".join(parts), details
