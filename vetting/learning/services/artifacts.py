"""Model artifacts and classifier versions.

* :func:`create_version` - save a trained model as an immutable artifact file (with its
  metadata: library and code versions, label-snapshot hash, seed, cross-validated metrics),
  create the ``ClassifierVersion`` and decide its promotion: not worse than the active version
  by ``classifier.evaluation.compare`` within ``VETTING_PROMOTION_TOLERANCE``;
* :func:`artifact_path` - where a version's artifact lives;
* :func:`load_model` - a version's fitted model, loaded only from an artifact whose sha256 the
  site recorded, cached per worker process.
"""
from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.db import transaction

from vetting.learning.models import ClassifierVersion
from vetting.learning.services import progress


def _artifact_dir() -> Path:
    path = Path(settings.VETTING_ARTIFACT_DIR)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _artifact_name(path: Path) -> str:
    """FileField name: relative to MEDIA_ROOT when inside it, else the absolute path."""
    try:
        return str(path.resolve().relative_to(Path(settings.MEDIA_ROOT).resolve()))
    except ValueError:
        return str(path.resolve())


def artifact_path(version: ClassifierVersion) -> Path:
    """Absolute path of a version's artifact file."""
    name = Path(version.artifact.name)
    return name if name.is_absolute() else Path(settings.MEDIA_ROOT) / name


def _next_version_name() -> str:
    n = ClassifierVersion.objects.count() + 1
    while ClassifierVersion.objects.filter(name=f"v{n}").exists():
        n += 1
    return f"v{n}"


def create_version(run_id, result, feature_names, snap: str, n_labels: int, seed: int) -> ClassifierVersion:
    """Save the artifact, create the version and record the promotion decision.

    ``result`` is a ``classifier.training.TrainResult`` (model, classes, metrics); ``snap``
    the label-snapshot hash. The decision is taken under the "promotion" lock, so two runs
    never compare against a stale active version.
    """
    from classifier.evaluation import compare
    from classifier.jsonutil import jsonable
    from classifier.persistence import read_metadata, save_artifact

    name = _next_version_name()
    path = save_artifact(
        result.model, _artifact_dir(), feature_names=list(feature_names), classes=list(result.classes),
        seed=seed, label_hash=snap, metrics=result.metrics,
        extra={"name": name, "n_labels": n_labels, "training_run": run_id,
               "profile": settings.VETTING_TRAINING_PROFILE},
    )
    meta = read_metadata(path)
    sha256 = meta["sha256"]
    library_versions = meta.get("library_versions") or {}
    code_version = str(meta.get("code_version") or "unknown")[:64]

    progress.step(run_id, 0.82, "comparing with the active model")
    tolerance = float(settings.VETTING_PROMOTION_TOLERANCE)
    with transaction.atomic():
        progress.advisory_lock("promotion")
        active = ClassifierVersion.objects.filter(is_active=True).first()
        ok, reason = compare(result.metrics, active.metrics if active else None, tolerance=tolerance)
        if active is not None:
            reason = f"vs {active.name}: {reason}"
        version = ClassifierVersion(
            name=name, training_run_id=run_id, artifact=_artifact_name(path), artifact_sha256=sha256,
            metrics=jsonable(result.metrics), label_snapshot_hash=snap, n_labels=n_labels,
            classes=list(result.classes), feature_names=list(feature_names),
            library_versions=library_versions, code_version=code_version, seed=seed,
            status=ClassifierVersion.Status.PROMOTED if ok else ClassifierVersion.Status.REJECTED,
            decision_reason=reason,
        )
        version.full_clean()
        version.save()
    return version


_model_cache: dict[tuple[int, str], object] = {}


def load_model(version: ClassifierVersion):
    """The fitted model of a version, from its artifact (sha256 checked), cached per process."""
    from classifier.persistence import load_artifact

    key = (version.pk, version.artifact_sha256)
    if key not in _model_cache:
        model = load_artifact(artifact_path(version), expected_sha256=version.artifact_sha256).model
        _model_cache.clear()  # keep one model in memory per worker process
        _model_cache[key] = model
    return _model_cache[key]
