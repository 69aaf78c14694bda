"""Tests of immutable artifacts and the label snapshot hash."""
from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from classifier.persistence import ArtifactIntegrityError, label_snapshot_hash, load_artifact, save_artifact


def fitted():
    X = np.array([[0.0], [1.0], [2.0], [3.0]])
    return LogisticRegression().fit(X, [0, 0, 1, 1]), X


def test_roundtrip_metadata_and_hash_in_name(tmp_path):
    model, X = fitted()
    path = save_artifact(model, tmp_path, feature_names=["x"], classes=["J", "PC"], seed=7,
                         label_hash="abc", metrics={"planet_ap": np.float64(0.9)})
    meta = json.loads(path.with_suffix(".json").read_text())
    assert meta["sha256"][:16] in path.name
    assert meta["seed"] == 7 and meta["classes"] == ["J", "PC"] and meta["metrics"]["planet_ap"] == 0.9
    assert {"scikit-learn", "numpy", "python"} <= set(meta["library_versions"])
    assert meta["code_version"]
    art = load_artifact(path, expected_sha256=meta["sha256"])
    np.testing.assert_allclose(art.model.predict_proba(X), model.predict_proba(X))
    # same model again -> same immutable file, nothing overwritten
    assert save_artifact(model, tmp_path, feature_names=["x"], classes=["J", "PC"], seed=7, label_hash="abc") == path


def test_refuses_tampered_or_unexpected_artifact(tmp_path):
    model, _ = fitted()
    path = save_artifact(model, tmp_path, feature_names=["x"], classes=["J", "PC"], seed=0, label_hash="h")
    with pytest.raises(ArtifactIntegrityError, match="expected hash"):
        load_artifact(path, expected_sha256="0" * 64)
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ArtifactIntegrityError, match="does not match the sidecar"):
        load_artifact(path)
    with pytest.raises(FileNotFoundError):
        load_artifact(tmp_path / "nope.joblib")


def test_label_snapshot_hash_order_independent():
    a = [("c1", "PC"), ("c2", "EB"), ("c3", "J")]
    assert label_snapshot_hash(a) == label_snapshot_hash(reversed(a))
    assert label_snapshot_hash(a) != label_snapshot_hash([("c1", "EB"), ("c2", "EB"), ("c3", "J")])
    assert label_snapshot_hash(a) != label_snapshot_hash(a[:2])
    assert len(label_snapshot_hash([])) == 64
