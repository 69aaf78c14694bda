"""Immutable, verifiable model artifacts.

An artifact is a joblib file named ``<prefix>-<sha256[:16]>.joblib`` plus a JSON sidecar of the
same stem (``.json``) recording the full sha256, library versions, code version, label-snapshot
hash, seed, feature names, classes and metrics. Files are never overwritten: the same bytes give
the same name. :func:`load_artifact` refuses a file whose sha256 differs from the recorded one,
because unpickling runs code and the site must only load models it wrote itself.

Where the bytes live is the caller's business: :func:`dump_artifact` returns the file name, the
model's bytes and the metadata, and :func:`load_artifact_bytes` checks and loads bytes read from
anywhere (the site keeps them in Django's storage, local disk or an S3-compatible store:
``vetting.learning.services.artifacts``). :func:`save_artifact`/:func:`load_artifact` do the same
with a local folder. This module never imports Django.

The recorded ``feature_names`` are the model's input columns, by name. The design matrix
(:mod:`classifier.dataset`) still understands scalar names a model was trained with before they
were renamed (:data:`classifier.dataset.RENAMED_SCALARS`), so such a model loads and scores the
same columns; a name nobody computes any more is refused when the site builds the matrix
(``vetting.learning.featurize.check_scalar_names``) instead of scoring a silent NaN column.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import platform
import subprocess
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import joblib

from classifier.jsonutil import jsonable

ARTIFACT_FORMAT = 1


class ArtifactIntegrityError(RuntimeError):
    """The artifact's bytes do not match the sha256 recorded in its metadata."""


@dataclass(frozen=True)
class Artifact:
    """A loaded artifact: the model and its metadata (``metadata["sha256"]`` verified)."""

    model: object
    metadata: dict
    path: Path


def label_snapshot_hash(pairs: Iterable[tuple[str, str]]) -> str:
    """Order-independent sha256 of (candidate_id, class_code) pairs.

    Two label sets give the same hash exactly when they hold the same pairs (duplicates count).
    """
    lines = sorted(f"{cid}\t{code}" for cid, code in pairs)
    digest = hashlib.sha256()
    for line in lines:
        digest.update(line.encode("utf-8"))
        digest.update(b"\n")
    return digest.hexdigest()


def library_versions() -> dict[str, str]:
    """Versions of the libraries that determine how a pickled model behaves."""
    import numpy
    import scipy
    import sklearn

    return {
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
        "scikit-learn": sklearn.__version__,
        "joblib": joblib.__version__,
    }


def code_version() -> str:
    """``git describe --always --dirty`` of the checkout, else the package version, else "unknown"."""
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--tags"],
            cwd=here, capture_output=True, text=True, timeout=5, check=True,
        )
        if out.stdout.strip():
            return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        from importlib.metadata import version

        return version("vetting")
    except Exception:  # any failure means "not installed as a package"
        return "unknown"


def dump_artifact(model, *, feature_names: list[str], classes: list[str], seed: int, label_hash: str,
                  metrics: Mapping | None = None, extra: Mapping | None = None,
                  prefix: str = "vetting-model") -> tuple[str, bytes, dict]:
    """Serialise ``model`` (joblib, compressed) with its metadata, without writing anything.

    Parameters as :func:`save_artifact`. Returns ``(file name, model bytes, metadata)``: the name
    is ``<prefix>-<sha256[:16]>.joblib`` and ``metadata["sha256"]`` the sha256 of the bytes (the
    same bytes give the same name: artifacts are immutable). The sidecar is
    ``json.dumps(metadata)`` stored under the same stem with ``.json``.
    """
    buffer = io.BytesIO()
    joblib.dump(model, buffer, compress=3)
    data = buffer.getvalue()
    sha = hashlib.sha256(data).hexdigest()
    name = f"{prefix}-{sha[:16]}.joblib"
    metadata = {
        "format": ARTIFACT_FORMAT,
        "file": name,
        "sha256": sha,
        "created": datetime.now(UTC).isoformat(),
        "library_versions": library_versions(),
        "code_version": code_version(),
        "label_snapshot_hash": label_hash,
        "seed": int(seed),
        "feature_names": list(feature_names),
        "classes": list(classes),
        "metrics": jsonable(dict(metrics or {})),
        **jsonable(dict(extra or {})),
    }
    return name, data, metadata


def metadata_bytes(metadata: Mapping) -> bytes:
    """The sidecar's contents (indented, sorted JSON)."""
    return json.dumps(dict(metadata), indent=2, sort_keys=True).encode()


def load_artifact_bytes(data: bytes, metadata: Mapping, *, expected_sha256: str | None = None,
                        where: str = "artifact") -> object:
    """The model in ``data`` after checking its sha256 against the metadata's (and
    ``expected_sha256``, e.g. the one recorded in the database); ``where`` names it in errors.

    Raises
    ------
    ArtifactIntegrityError
        A hash differs or the metadata records none; nothing is unpickled.
    """
    actual = hashlib.sha256(data).hexdigest()
    if metadata.get("sha256") is None:
        raise ArtifactIntegrityError(f"refusing to load {where}: metadata records no sha256")
    for label, recorded in (("sidecar", metadata.get("sha256")), ("expected", expected_sha256)):
        if recorded is not None and recorded != actual:
            raise ArtifactIntegrityError(
                f"refusing to load {where}: its sha256 {actual} does not match the {label} hash {recorded}"
            )
    return joblib.load(io.BytesIO(data))


def save_artifact(
    model,
    directory: str | Path,
    *,
    feature_names: list[str],
    classes: list[str],
    seed: int,
    label_hash: str,
    metrics: Mapping | None = None,
    extra: Mapping | None = None,
    prefix: str = "vetting-model",
) -> Path:
    """Write ``model`` as an immutable artifact and its JSON sidecar.

    Parameters
    ----------
    model : object
        Fitted estimator (pickled with joblib).
    directory : path
        Created if needed.
    feature_names, classes : list of str
    seed : int
    label_hash : str
        :func:`label_snapshot_hash` of the training labels.
    metrics, extra : mapping, optional
        Cross-validated metrics and any further metadata (numpy values become plain JSON,
        NaN becomes null).
    prefix : str
        File-name prefix.

    Returns
    -------
    Path
        The model file ``<prefix>-<sha256[:16]>.joblib``; metadata is ``path.with_suffix(".json")``.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    name, data, metadata = dump_artifact(model, feature_names=feature_names, classes=classes, seed=seed,
                                         label_hash=label_hash, metrics=metrics, extra=extra, prefix=prefix)
    final = directory / name
    if not final.exists():  # identical bytes already stored: artifacts are immutable
        fd, tmp_name = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=".joblib")
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp_name, final)
    sidecar = final.with_suffix(".json")
    if not sidecar.exists():
        sidecar.write_bytes(metadata_bytes(metadata))
    return final


def read_metadata(path: str | Path) -> dict:
    """Metadata of an artifact (``path`` may be the model file or its ``.json`` sidecar)."""
    sidecar = Path(path).with_suffix(".json")
    if not sidecar.exists():
        raise FileNotFoundError(f"artifact metadata {sidecar} not found")
    return json.loads(sidecar.read_text())


def load_artifact(path: str | Path, *, expected_sha256: str | None = None) -> Artifact:
    """Load an artifact after checking its sha256.

    Parameters
    ----------
    path : path
        Model file written by :func:`save_artifact`.
    expected_sha256 : str, optional
        Hash recorded elsewhere (e.g. in the database); checked in addition to the sidecar's.

    Raises
    ------
    ArtifactIntegrityError
        The file's sha256 differs from the recorded one(s); nothing is unpickled.
    FileNotFoundError
        The model file or its sidecar is missing.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"artifact {path} not found")
    metadata = read_metadata(path)
    model = load_artifact_bytes(path.read_bytes(), metadata, expected_sha256=expected_sha256, where=str(path))
    return Artifact(model=model, metadata=metadata, path=path)
