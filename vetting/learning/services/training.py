"""The work of one training run, once claimed (``runs.training_run_execute`` calls it).

:func:`train_and_decide`: snapshot the consensus labels (:func:`label_snapshot`, hashed by
:func:`snapshot_hash`), featurise, train with grouped cross-validation
(``classifier.training.train``; ``VETTING_TRAINING_PROFILE``, ``VETTING_TRAINING_FAMILIES``,
``VETTING_TRAINING_CV_FOLDS``, ``VETTING_TRAINING_SEED``), flag suspected mislabels, save the
artifact and decide promotion against the active model on the same labels
(:mod:`~vetting.learning.services.promotion`), then rescore (in-process or through the worker)
and finish the run. A run whose label snapshot equals the latest version's finishes at once
with "no new labels" and makes no version.
"""
from __future__ import annotations

import numpy as np
from django.conf import settings
from django.db import transaction

from vetting.learning.models import ClassifierVersion, TrainingRun
from vetting.learning.services import mislabels, progress, promotion, rescoring

#: Least consensus labels a run trains on.
MIN_LABELS = 10


class NotEnoughLabels(ValueError):
    """The consensus labels cannot train a classifier yet (too few, one class, one star)."""


def label_snapshot() -> tuple[np.ndarray, np.ndarray]:
    """The training labels now: (candidate ids (n,) int64 ascending, class codes (n,) object).

    ``reviews.Consensus`` already leaves out labels excluded from training; catalog-only
    consensus (method ``catalog``) counts only when ``VETTING_INCLUDE_CATALOG_LABELS``.
    """
    from vetting.reviews.models import Consensus
    from vetting.reviews.selectors import injected_ids

    # injected known-answer candidates are never real targets (they get no consensus; this
    # keeps them out even if one were stored)
    qs = Consensus.objects.order_by("candidate_id").exclude(candidate_id__in=injected_ids())
    if not settings.VETTING_INCLUDE_CATALOG_LABELS:
        qs = qs.exclude(method="catalog")
    rows = list(qs.values_list("candidate_id", "label_class"))
    ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    labels = np.array([r[1] for r in rows], dtype=object)
    return ids, labels


def snapshot_hash(candidate_ids: np.ndarray, labels: np.ndarray) -> str:
    """Stable hash of a label snapshot (order-independent; see classifier.persistence)."""
    from classifier.persistence import label_snapshot_hash

    return label_snapshot_hash(zip((str(i) for i in candidate_ids.tolist()), (str(c) for c in labels.tolist())))


def _check_trainable(labels: np.ndarray, groups: np.ndarray) -> None:
    if len(labels) < MIN_LABELS:
        raise NotEnoughLabels(f"not enough consensus labels to train: {len(labels)} < {MIN_LABELS}")
    classes = sorted(set(labels.tolist()))
    if len(classes) < 2:
        raise NotEnoughLabels(f"consensus labels cover only one class ({classes}); need at least two")
    if len(np.unique(groups)) < 2:
        raise NotEnoughLabels("labeled candidates lie on a single star; grouped validation needs two or more")


def _version_with_same_labels(snap: str, seed: int) -> ClassifierVersion | None:
    """The latest team version trained on exactly this label snapshot with the same seed and
    training settings (profile, families, folds), if it is also the latest team version (else None)."""
    latest = (ClassifierVersion.objects.filter(origin=ClassifierVersion.Origin.TEAM)
              .order_by("-created_at", "-pk").only("pk", "name", "label_snapshot_hash", "seed", "metrics").first())
    if latest is None or latest.label_snapshot_hash != snap or int(latest.seed) != seed:
        return None
    metrics = latest.metrics or {}
    families = list(settings.VETTING_TRAINING_FAMILIES or [])
    if metrics.get("profile", settings.VETTING_TRAINING_PROFILE) != settings.VETTING_TRAINING_PROFILE:
        return None
    if families and sorted(families) != sorted(metrics.get("families") or []):
        return None
    from classifier.estimators import cv_folds_for

    folds = cv_folds_for(settings.VETTING_TRAINING_PROFILE, cv_folds())
    if metrics.get("cv_folds_requested", folds) != folds:  # versions from before it was recorded: as before
        return None
    return latest


def cv_folds() -> int | None:
    """``VETTING_TRAINING_CV_FOLDS``, or None (0, the default) for the training profile's own."""
    return int(settings.VETTING_TRAINING_CV_FOLDS) or None


def _finish(run_id: int, message: str) -> None:
    finished = TrainingRun.objects.filter(pk=run_id, state=TrainingRun.State.RUNNING).update(
        state=TrainingRun.State.FINISHED, progress=1.0, finished_at=progress.now(), message=message[:255]
    )
    if not finished:
        raise progress.RunAborted(f"training run {run_id} was taken away before it could finish")


def train_and_decide(run_id: int, *, rescore: str) -> None:
    """Train, flag, version and (if promoted) rescore for running run ``run_id``; finish it.

    ``rescore="sync"`` scores every candidate in-process before the run finishes; ``"async"``
    sends a chord of ``score_chunk`` tasks after commit. Raises :class:`NotEnoughLabels` or
    ``progress.RunAborted``; any other error propagates to ``training_run_execute``.
    """
    from classifier.training import train
    from vetting.learning.featurize import build_matrix

    progress.step(run_id, 0.05, "freezing the label snapshot")
    ids, labels = label_snapshot()
    snap = snapshot_hash(ids, labels)
    TrainingRun.objects.filter(pk=run_id).update(label_snapshot_hash=snap, n_labels=len(ids))
    seed = int(settings.VETTING_TRAINING_SEED)
    same = _version_with_same_labels(snap, seed)
    if same is not None:
        # Same labels, same seed, same settings: the fit would reproduce ``same`` exactly.
        _finish(run_id, f"no new labels since {same.name} ({len(ids)} labels, same snapshot): no new version made")
        return

    progress.step(run_id, 0.15, f"building features of {len(ids)} labeled candidates")
    matrix = build_matrix(ids)
    by_id = dict(zip(ids.tolist(), labels.tolist()))
    y = np.array([by_id[i] for i in matrix.candidate_ids.tolist()], dtype=object)
    _check_trainable(y, matrix.groups)

    progress.step(run_id, 0.3, "training with grouped cross-validation")
    model_params = {}
    families = settings.VETTING_TRAINING_FAMILIES  # optional override of the profile's families
    if families:
        model_params["families"] = list(families)
    result = train(
        matrix.X.astype(np.float64), y, matrix.groups, seed=seed,
        profile=settings.VETTING_TRAINING_PROFILE, n_splits=cv_folds(),
        **model_params,
    )

    progress.step(run_id, 0.7, "flagging suspected mislabels")
    n_flags = mislabels.flag_mislabels(run_id, matrix.candidate_ids, y, result.oof_proba, result.classes)

    progress.step(run_id, 0.8, "saving the model artifact")
    version = promotion.create_version(run_id, result, matrix.feature_names, snap, len(y), seed,
                                       candidate_ids=matrix.candidate_ids, y=y, groups=matrix.groups,
                                       X=matrix.X)

    promoted = version.status == ClassifierVersion.Status.PROMOTED
    if promoted and rescore == "sync":
        progress.step(run_id, 0.85, "rescoring all candidates")
        rescoring.rescore_sync(version=version, run_id=run_id)
    message = (
        f"{version.name} {version.status}: {version.decision_reason}; {n_flags} suspected mislabels flagged"
    )
    if promoted and rescore == "async":
        message = f"{version.name} promoted; rescoring candidates in the background"
    _finish(run_id, message)
    if promoted and rescore == "async":
        transaction.on_commit(lambda: rescoring.rescore_async(version_id=version.pk, run_id=run_id))
