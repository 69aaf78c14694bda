"""Model artifacts and classifier versions, through Django's storage API.

* :func:`save_version_artifact` - save a trained model as an immutable artifact (with its
  metadata: library and code versions, label-snapshot hash, seed, cross-validated metrics) in the
  artifact field's storage (``STORAGES["default"]``: local disk, or an S3-compatible store shared
  by the web and worker machines); ``promotion.create_version`` makes the ``ClassifierVersion``;
* :func:`artifact_metadata` / :func:`artifact_path` - a version's metadata; a local path of its
  artifact (the stored file itself on local disk, else a checked copy in a local cache);
* :func:`load_model` - a version's fitted model, loaded only from bytes whose sha256 the site
  recorded, cached per worker process.

Names: ``<VETTING_ARTIFACT_DIR relative to MEDIA_ROOT>/<prefix>-<sha16>.joblib`` (``models/...``
by default) with the ``.json`` sidecar beside it. An artifact directory outside ``MEDIA_ROOT``
(local disk only) keeps absolute names, as before. :mod:`classifier.persistence` serialises and
checks bytes and never sees Django.
"""
from __future__ import annotations

import hashlib
import json
import tempfile
from pathlib import Path, PurePosixPath

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, Storage, default_storage

from vetting.learning.models import ClassifierVersion


def _artifact_folder() -> tuple[Storage, str, bool]:
    """(storage, folder name in it, names absolute?) where new artifacts are written."""
    folder = Path(settings.VETTING_ARTIFACT_DIR)
    if not folder.is_absolute():
        return default_storage, PurePosixPath(folder).as_posix(), False
    try:
        return default_storage, folder.resolve().relative_to(Path(settings.MEDIA_ROOT).resolve()).as_posix(), False
    except ValueError:  # a local folder outside MEDIA_ROOT: absolute names on local disk
        return FileSystemStorage(location=str(folder)), str(folder.resolve()), True


def _storage_and_name(name: str) -> tuple[Storage, str]:
    """The storage holding a recorded artifact name, and the name in it."""
    if Path(name).is_absolute():
        return FileSystemStorage(location=str(Path(name).parent)), Path(name).name
    return default_storage, name


def _sidecar(name: str) -> str:
    return str(PurePosixPath(name).with_suffix(".json")) if not Path(name).is_absolute() else \
        str(Path(name).with_suffix(".json"))


def _write_once(storage: Storage, name: str, data: bytes) -> None:
    """Write ``data`` as ``name`` unless it exists (same name = same bytes: immutable)."""
    if not storage.exists(name):
        saved = storage.save(name, ContentFile(data))
        if saved != name:  # a concurrent writer won the name: keep one copy
            storage.delete(saved)


def save_version_artifact(result, feature_names, snap: str, n_labels: int, seed: int, *, name: str,
                          extra: dict | None = None) -> tuple[str, str, dict, str]:
    """Write ``result.model`` as an artifact; returns (name for the FileField, sha256, library
    versions, code version)."""
    from classifier.persistence import dump_artifact, metadata_bytes

    file_name, data, meta = dump_artifact(
        result.model, feature_names=list(feature_names), classes=list(result.classes),
        seed=seed, label_hash=snap, metrics=result.metrics,
        extra={"name": name, "n_labels": n_labels, "profile": settings.VETTING_TRAINING_PROFILE, **(extra or {})},
    )
    storage, folder, absolute = _artifact_folder()
    stored = str(Path(folder) / file_name) if absolute else str(PurePosixPath(folder) / file_name)
    inner = file_name if absolute else stored
    _write_once(storage, inner, data)
    _write_once(storage, str(PurePosixPath(inner).with_suffix(".json")), metadata_bytes(meta))
    return (stored, meta["sha256"], meta.get("library_versions") or {},
            str(meta.get("code_version") or "unknown")[:64])


def _read(name: str) -> bytes:
    storage, inner = _storage_and_name(name)
    try:
        with storage.open(inner, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        raise
    except (OSError, ValueError) as exc:  # remote stores raise their own errors for a missing key
        raise FileNotFoundError(f"artifact file {name} cannot be read: {exc}") from exc


def artifact_metadata(version: ClassifierVersion) -> dict:
    """The metadata sidecar of a version's artifact (FileNotFoundError when missing)."""
    return json.loads(_read(_sidecar(str(version.artifact.name))))


def artifact_path(version: ClassifierVersion) -> Path:
    """A local path of a version's artifact, its ``.json`` sidecar beside it.

    On local disk, the stored file itself; on a remote store, a copy in a local cache folder,
    written only after its sha256 matched the one the site recorded.
    """
    name = str(version.artifact.name)
    storage, inner = _storage_and_name(name)
    try:
        return Path(storage.path(inner))
    except NotImplementedError:
        pass
    cache = Path(tempfile.gettempdir()) / "vetting-artifacts"
    cache.mkdir(parents=True, exist_ok=True)
    local = cache / PurePosixPath(name).name
    if not local.exists():
        from classifier.persistence import ArtifactIntegrityError, metadata_bytes

        data, meta = _read(name), artifact_metadata(version)
        if hashlib.sha256(data).hexdigest() != version.artifact_sha256:
            raise ArtifactIntegrityError(f"refusing to cache {name}: its sha256 differs from the recorded one")
        local.with_suffix(".json").write_bytes(metadata_bytes(meta))
        tmp = local.with_suffix(".part")
        tmp.write_bytes(data)
        tmp.replace(local)
    return local


def next_version_name() -> str:
    n = ClassifierVersion.objects.count() + 1
    while ClassifierVersion.objects.filter(name=f"v{n}").exists():
        n += 1
    return f"v{n}"


_model_cache: dict[tuple[int, str], object] = {}


def load_model(version: ClassifierVersion):
    """The fitted model of a version, from its stored bytes (sha256 checked against the
    sidecar's and the database's), cached per process."""
    from classifier.persistence import load_artifact_bytes

    key = (version.pk, version.artifact_sha256)
    if key not in _model_cache:
        name = str(version.artifact.name)
        model = load_artifact_bytes(_read(name), artifact_metadata(version),
                                    expected_sha256=version.artifact_sha256, where=name)
        _model_cache.clear()  # keep one model in memory per worker process
        _model_cache[key] = model
    return _model_cache[key]
