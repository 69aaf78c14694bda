"""Model artifacts and classifier versions.

* :func:`save_version_artifact` - save a trained model as an immutable artifact file (with its
  metadata: library and code versions, label-snapshot hash, seed, cross-validated metrics);
  ``promotion.create_version`` makes the ``ClassifierVersion`` from it;
* :func:`artifact_path` - where a version's artifact lives;
* :func:`load_model` - a version's fitted model, loaded only from an artifact whose sha256 the
  site recorded, cached per worker process.
"""
from __future__ import annotations

from pathlib import Path

from django.conf import settings

from vetting.learning.models import ClassifierVersion


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


def next_version_name() -> str:
    n = ClassifierVersion.objects.count() + 1
    while ClassifierVersion.objects.filter(name=f"v{n}").exists():
        n += 1
    return f"v{n}"


def save_version_artifact(result, feature_names, snap: str, n_labels: int, seed: int, *, name: str,
                          extra: dict | None = None) -> tuple[str, str, dict, str]:
    """Write ``result.model`` as an artifact; returns (file name for the FileField, sha256,
    library versions, code version)."""
    from classifier.persistence import read_metadata, save_artifact

    path = save_artifact(
        result.model, _artifact_dir(), feature_names=list(feature_names), classes=list(result.classes),
        seed=seed, label_hash=snap, metrics=result.metrics,
        extra={"name": name, "n_labels": n_labels, "profile": settings.VETTING_TRAINING_PROFILE, **(extra or {})},
    )
    meta = read_metadata(path)
    return (_artifact_name(path), meta["sha256"], meta.get("library_versions") or {},
            str(meta.get("code_version") or "unknown")[:64])


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
