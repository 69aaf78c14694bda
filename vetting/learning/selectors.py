"""Reads of the learning app: the active model, predictions, the vetting queue, learning curves.

No writes here. Views, the API and the admin call these; they never query models directly for
these purposes, so query counts stay bounded. The vetting queue is read in one place for the
site and the API: :mod:`vetting.learning.queue_selectors`.
"""
from __future__ import annotations

from collections.abc import Iterable

from django.db.models import QuerySet

from vetting.core import liveness
from vetting.core.progress import progress_body
from vetting.learning.models import ClassifierVersion, Prediction, QueueSettings, TrainingRun

#: Metric keys shown on learning curves (from classifier.evaluation.classification_metrics).
CURVE_METRICS = ("planet_ap", "triage_ap", "planet_auc", "triage_auc", "accuracy", "ece", "log_loss")

def active_version(*, full: bool = False) -> ClassifierVersion | None:
    """The promoted, active classifier version, or None before the first promotion (1 query).

    The one definition for the site, the API and the worker. Without ``full`` the JSON metadata
    (metrics, feature names, library versions) is left unread: pages need id and name only.
    """
    qs = ClassifierVersion.objects.filter(is_active=True)
    if not full:
        qs = qs.defer("metrics", "classes", "feature_names", "library_versions", "decision_reason")
    return qs.first()


def predictions_for(candidate_ids: Iterable[int], *, version: ClassifierVersion | None = None) -> dict[int, Prediction]:
    """Predictions of the active (or given) version for these candidates: {candidate_id: Prediction}.

    Candidates without a prediction are absent from the dict. One query (plus one for the
    active version when ``version`` is not given).
    """
    version = version or active_version()
    ids = list(candidate_ids)
    if version is None or not ids:
        return {}
    rows = Prediction.objects.filter(classifier_version=version, candidate_id__in=ids)
    return {p.candidate_id: p for p in rows}


def predictions_of_version(version_id: int | None) -> QuerySet[Prediction]:
    """Predictions of one classifier version with their candidate's catalog id (lists, exports);
    empty when there is no version."""
    if version_id is None:
        return Prediction.objects.none()
    return Prediction.objects.filter(classifier_version_id=version_id).select_related(
        "candidate", "classifier_version"
    ).only(
        "id", "candidate_id", "candidate__catalog_id", "classifier_version_id", "classifier_version__name",
        "probabilities", "predicted_class", "p_planet", "p_triage", "uncertainty", "disagreement", "created_at",
    )


def learning_curve() -> list[dict]:
    """Metrics per classifier version over time, oldest first.

    Each item: ``{"id", "name", "created_at", "n_labels", "status", "is_active",
    "decision_reason", "origin", "metrics": {key: value or None for CURVE_METRICS}}``. Metrics are the
    grouped cross-validated figures stored with the version.
    """
    rows = ClassifierVersion.objects.order_by("created_at", "id").values(
        "id", "name", "created_at", "n_labels", "status", "is_active", "decision_reason", "metrics", "origin"
    )
    out = []
    for row in rows:
        metrics = row.pop("metrics") or {}
        row["metrics"] = {key: metrics.get(key) for key in CURVE_METRICS}
        out.append(row)
    return out


def training_runs(*, limit: int = 20) -> QuerySet[TrainingRun]:
    """Latest training runs with their requester and resulting version (newest first)."""
    return TrainingRun.objects.select_related("requested_by", "classifier_version").order_by("-created_at")[:limit]


def classifier_versions(*, limit: int = 50) -> QuerySet[ClassifierVersion]:
    """Latest classifier versions (newest first)."""
    return ClassifierVersion.objects.select_related("training_run").order_by("-created_at")[:limit]


def training_run_progress(run: TrainingRun) -> dict:
    """JSON-ready progress of one run, in the shape every progress bar polls (``kind``,
    ``state``, ``progress`` 0..1, ``message``, ``done``) plus the run's own details."""
    version = getattr(run, "classifier_version", None) if run.state == TrainingRun.State.FINISHED else None
    message = run.message or run.state
    if run.state == TrainingRun.State.FAILED and run.error:
        message = f"failed: {run.error.splitlines()[0][:200]}"
    return progress_body(
        kind="training", pk=run.pk, state=run.state, progress=run.progress, message=message,
        sent=liveness.was_sent(run), error=run.error,
        n_labels=run.n_labels,
        created_at=run.created_at.isoformat() if run.created_at else None,
        started_at=run.started_at.isoformat() if run.started_at else None,
        finished_at=run.finished_at.isoformat() if run.finished_at else None,
        classifier_version=({"id": version.pk, "name": version.name, "status": version.status}
                            if version is not None else None),
    )


def _training_consensus():
    """Consensus rows a training run would use (catalog-only ones only when they count)."""
    from django.conf import settings

    from vetting.reviews.models import Consensus

    qs = Consensus.objects.all()
    if not settings.VETTING_INCLUDE_CATALOG_LABELS:
        qs = qs.exclude(method="catalog")
    return qs


def labels_since_last_run() -> int:
    """Training labels created or changed since the last run (running or finished) started."""
    last = (
        TrainingRun.objects.filter(state__in=[TrainingRun.State.RUNNING, TrainingRun.State.FINISHED],
                                   started_at__isnull=False)
        .order_by("-started_at").values_list("started_at", flat=True).first()
    )
    qs = _training_consensus()
    return qs.filter(updated_at__gt=last).count() if last else qs.count()


def labels_unseen_by_active() -> int:
    """Training labels created or changed since the active model's run started (all of them
    before the first team model, and for a base model trained on public labels).

    A rejected run does not reset this count: its labels still count toward the next run.
    """
    started = (ClassifierVersion.objects.filter(is_active=True, origin=ClassifierVersion.Origin.TEAM)
               .values_list("training_run__started_at", flat=True).first())
    qs = _training_consensus()
    return qs.filter(updated_at__gt=started).count() if started else qs.count()


def retrain_status() -> dict:
    """How close the next automatic retrain is (at most 4 queries): ``unseen`` (labels the active model has
    not seen), ``since_last_run``, ``threshold`` (``VETTING_RETRAIN_EVERY_N_LABELS``), ``retry_after``
    (new labels needed after a run that did not promote) and ``due``."""
    from django.conf import settings

    threshold = int(settings.VETTING_RETRAIN_EVERY_N_LABELS)
    retry_after = max(1, threshold // RETRY_FRACTION)
    unseen = labels_unseen_by_active()
    since = labels_since_last_run() if unseen >= threshold else 0
    return {"unseen": unseen, "since_last_run": since, "threshold": threshold, "retry_after": retry_after,
            "due": unseen >= threshold and since >= retry_after}


#: After a run that did not promote, the next one starts after ``threshold // RETRY_FRACTION``
#: further labels (not a whole new threshold: the rejected run's labels keep counting).
RETRY_FRACTION = 5


def query_mix() -> dict:
    """The query-strategy mix of the vetting queue (1 query): the curators' stored choice
    (``QueueSettings``), else ``VETTING_QUERY_MIX``. Returns ``{strategy: share}``, shares summing to 1."""
    from django.conf import settings

    stored = QueueSettings.objects.filter(pk=1).values_list("mix", flat=True).first()
    mix = dict(stored or settings.VETTING_QUERY_MIX)
    total = sum(float(v) for v in mix.values()) or 1.0
    return {k: float(v) / total for k, v in mix.items()}


def query_mix_is_default() -> bool:
    """True while no curator has stored a mix (the queue uses ``VETTING_QUERY_MIX``)."""
    return not QueueSettings.objects.filter(pk=1).exists()
