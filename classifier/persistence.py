"""Immutable, verifiable model artifacts.

An artifact is a joblib file named ``<prefix>-<sha256[:16]>.joblib`` plus a JSON sidecar of the
same stem (``.json``) recording the full sha256, library versions, code version, label-snapshot
hash, seed, feature names, classes and metrics. Files are never overwritten: the same bytes give
the same name. :func:`load_artifact` refuses a file whose sha256 differs from the recorded one,
because unpickling runs code and the site must only load models it wrote itself.

The recorded ``feature_names`` are the model's input columns, by name. The design matrix
(:mod:`classifier.dataset`) still understands scalar names a model was trained with before they
were renamed (:data:`classifier.dataset.RENAMED_SCALARS`), so such a model loads and scores the
same columns; a name nobody computes any more is refused when the site builds the matrix
(``vetting.learning.featurize.check_scalar_names``) instead of scoring a silent NaN column.
"""
from __future__ import annotations

import hashlib
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


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
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
    fd, tmp_name = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=".joblib")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        joblib.dump(model, tmp, compress=3)
        sha = _sha256_file(tmp)
        final = directory / f"{prefix}-{sha[:16]}.joblib"
        if final.exists():
            tmp.unlink()  # identical bytes already stored: artifacts are immutable
        else:
            os.replace(tmp, final)
    finally:
        if tmp.exists():
            tmp.unlink()
    metadata = {
        "format": ARTIFACT_FORMAT,
        "file": final.name,
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
    sidecar = final.with_suffix(".json")
    if not sidecar.exists():
        sidecar.write_text(json.dumps(metadata, indent=2, sort_keys=True))
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
    actual = _sha256_file(path)
    for label, recorded in (("sidecar", metadata.get("sha256")), ("expected", expected_sha256)):
        if recorded is not None and recorded != actual:
            raise ArtifactIntegrityError(
                f"refusing to load {path}: its sha256 {actual} does not match the {label} hash {recorded}"
            )
    if metadata.get("sha256") is None:
        raise ArtifactIntegrityError(f"refusing to load {path}: metadata records no sha256")
    return Artifact(model=joblib.load(path), metadata=metadata, path=path)
