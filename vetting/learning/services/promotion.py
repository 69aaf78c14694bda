"""Fair promotion: the new model and the active one, judged on the same labels.

Each classifier version's cross-validated metrics are computed on its own label snapshot, so
comparing two versions' stored metrics compares two different label sets (a larger, harder set
can make a better model look worse). :func:`compare_with_active` instead scores both models on
the **current** label snapshot, out of sample for every row:

* the new model: its out-of-fold probabilities (grouped by star);
* the active model: for rows it was trained on, its own out-of-fold probabilities (kept in its
  artifact with the candidate ids of its training rows); for the labels it has never seen, its
  predictions. A base model (warm start, trained on public labels) predicts every row.

:func:`create_version` records the new version with that decision.
``classifier.evaluation.paired_compare`` bootstraps stars and rejects the new model only when
a metric's whole interval of (new - active) is worse than ``VETTING_PROMOTION_TOLERANCE``.
"""
from __future__ import annotations

import logging

import numpy as np
from django.conf import settings
from django.db import transaction

from vetting.learning.models import ClassifierVersion
from vetting.learning.services import artifacts, modelcard, progress

logger = logging.getLogger(__name__)

#: Metadata key of an artifact's training candidate ids (rows of the model's ``oof_proba_``).
TRAINING_IDS_KEY = "training_candidate_ids"
#: Bootstrap resamples of the paired comparison.
N_BOOT = 300


def active_out_of_sample(active: ClassifierVersion, candidate_ids: np.ndarray, X: np.ndarray | None,
                         feature_names: list[str]) -> tuple[np.ndarray, dict]:
    """The active model's out-of-sample probabilities (n, k_active) for ``candidate_ids``.

    ``X`` (n, d) is the design matrix with ``feature_names``; the active model's own columns are
    built when they differ. Returns (probabilities with columns ``active.classes``, counts of
    ``{"own_oof": rows answered by its out-of-fold predictions, "predicted": the others}``).
    """
    from classifier.dataset import scalar_names_from_feature_names
    from classifier.persistence import read_metadata
    from vetting.learning.featurize import build_matrix

    model = artifacts.load_model(active)
    n = len(candidate_ids)
    proba = np.full((n, len(active.classes)), np.nan)
    trained_ids: list = []
    try:
        trained_ids = read_metadata(artifacts.artifact_path(active)).get(TRAINING_IDS_KEY) or []
    except FileNotFoundError:
        pass
    oof = getattr(model, "oof_proba_", None)
    own = np.zeros(n, dtype=bool)
    if trained_ids and oof is not None and len(oof) == len(trained_ids):
        row_of = {int(cid): i for i, cid in enumerate(trained_ids)}
        rows = np.array([row_of.get(int(c), -1) for c in candidate_ids.tolist()])
        own = rows >= 0
        proba[own] = np.asarray(oof)[rows[own]]
    rest = np.flatnonzero(~own)
    if len(rest):
        if list(active.feature_names) == list(feature_names) and X is not None:
            Xa = np.asarray(X, dtype=np.float64)[rest]
        else:
            m = build_matrix(candidate_ids[rest].tolist(),
                             scalar_names=scalar_names_from_feature_names(active.feature_names))
            pos = {int(c): i for i, c in enumerate(m.candidate_ids.tolist())}
            Xa = np.asarray(m.X, dtype=np.float64)[[pos[int(c)] for c in candidate_ids[rest].tolist()]]
        proba[rest] = model.predict_proba(Xa)
    return proba, {"own_oof": int(own.sum()), "predicted": int(len(rest))}


def compare_with_active(*, active: ClassifierVersion | None, result, candidate_ids: np.ndarray, y: np.ndarray,
                        groups: np.ndarray, X: np.ndarray, feature_names: list[str], seed: int
                        ) -> tuple[bool, str, dict]:
    """Decide promotion of ``result`` (a ``classifier.training.TrainResult``) against ``active``.

    Returns (promote, human-readable reason, details for ``ClassifierVersion.comparison``).
    """
    from classifier.evaluation import align_proba, paired_compare
    from classifier.vocabulary import CLASS_CODES

    if active is None:
        return True, "no active model to compare with", {}
    if result.oof_proba is None:
        return False, f"vs {active.name}: the new model has no out-of-fold predictions to compare", {}
    tolerance = float(settings.VETTING_PROMOTION_TOLERANCE)
    old, counts = active_out_of_sample(active, candidate_ids, X, feature_names)
    classes = [c for c in CLASS_CODES if c in set(result.classes) | set(active.classes)]
    new_p = align_proba(result.oof_proba, result.classes, classes)
    old_p = align_proba(old, list(active.classes), classes)
    ok, reason, details = paired_compare(y, new_p, old_p, classes, groups=groups, tolerance=tolerance,
                                         n_boot=N_BOOT, seed=seed)
    details.update({"against": active.name, "against_id": active.pk, **counts})
    unseen = counts["predicted"]
    return ok, f"vs {active.name} ({unseen} of the labels unseen by it): {reason}", details


def create_version(run_id, result, feature_names, snap: str, n_labels: int, seed: int, *,
                   candidate_ids, y, groups, X) -> ClassifierVersion:
    """Save the artifact, create the version and record the promotion decision.

    ``result`` is a ``classifier.training.TrainResult`` (model, classes, metrics, out-of-fold
    probabilities) fitted on ``X`` (n, d) with labels ``y`` (n,) of ``candidate_ids`` (n,) on
    stars ``groups`` (n,); ``snap`` the label-snapshot hash. Promotion compares the new and the
    active model on these same labels (:mod:`vetting.learning.services.promotion`); the
    decision is taken under the "promotion" lock, so two runs never compare against a stale
    active version.
    """
    from classifier.jsonutil import jsonable

    name = artifacts.next_version_name()
    artifact, sha256, library_versions, code_version = artifacts.save_version_artifact(
        result, feature_names, snap, n_labels, seed, name=name,
        extra={"training_run": run_id, TRAINING_IDS_KEY: [int(c) for c in candidate_ids.tolist()]},
    )

    progress.step(run_id, 0.82, "comparing with the active model on the same labels")
    # The comparison (scoring, bootstrap) runs outside the lock; under it, the active version
    # is checked again and the comparison redone in the rare case it changed meanwhile.
    active = ClassifierVersion.objects.filter(is_active=True).first()
    args = dict(result=result, candidate_ids=candidate_ids, y=y, groups=groups, X=X,
                feature_names=list(feature_names), seed=seed)
    ok, reason, details = compare_with_active(active=active, **args)
    with transaction.atomic():
        progress.advisory_lock("promotion")
        now_active = ClassifierVersion.objects.filter(is_active=True).first()
        if (now_active.pk if now_active else None) != (active.pk if active else None):
            ok, reason, details = compare_with_active(active=now_active, **args)
        version = ClassifierVersion(
            name=name, training_run_id=run_id, artifact=artifact, artifact_sha256=sha256,
            metrics=jsonable(result.metrics), label_snapshot_hash=snap, n_labels=n_labels,
            classes=list(result.classes), feature_names=list(feature_names),
            library_versions=library_versions, code_version=code_version, seed=seed,
            status=ClassifierVersion.Status.PROMOTED if ok else ClassifierVersion.Status.REJECTED,
            decision_reason=reason, comparison=jsonable(details), origin=ClassifierVersion.Origin.TEAM,
        )
        version.full_clean()
        version.save()
    # The label snapshot (for reproduction) and the model card, beside the artifact.
    modelcard.version_files_write(version=version, candidate_ids=candidate_ids, groups=groups, X=X, y=y,
                                  model=result.model)
    return version
