"""The labeled-data release: one zip with snapshot, candidates, card, model, environment, MANIFEST."""
from __future__ import annotations

import csv
import hashlib
import io
import zipfile

import pytest
from django.core.management import CommandError, call_command

from classifier.cli import main
from vetting.learning.services.release import verify_manifest

pytestmark = pytest.mark.django_db


@pytest.fixture
def version(make_population, vetter, fast_training, django_capture_on_commit_callbacks):
    from tests.learning.conftest import label_fast
    from vetting.learning import services
    from vetting.learning.models import ClassifierVersion
    from vetting.reviews.models import CandidateReview

    pop = make_population(80, seed=3)
    label_fast(pop, vetter)
    # One labeled candidate is a known-answer check: it must be marked in the release. Another
    # carries an injected signal: it must never appear as a real label (left out, or marked).
    CandidateReview.objects.update_or_create(candidate=pop[0][0], defaults={"is_known_answer": True})
    from vetting.reviews import models as review_models

    if hasattr(review_models, "KnownAnswer"):
        review_models.KnownAnswer.objects.create(candidate=pop[1][0], source="injected", true_class=pop[1][1],
                                                 injected_snr=12.0)
    run = services.training_run_request(trigger="manual")
    with django_capture_on_commit_callbacks():
        assert services.training_run_execute(run_id=run.pk, rescore="sync") == "finished"
    return ClassifierVersion.objects.get(training_run=run), pop


def _rows(zf, top, name):
    return list(csv.DictReader(io.StringIO(zf.read(f"{top}/{name}").decode())))


def test_release_archive_opens_verifies_and_reproduces(version, tmp_path):
    version, pop = version
    out = tmp_path / "release.zip"
    call_command("export_release", "--out", str(out), stdout=io.StringIO())
    with zipfile.ZipFile(out) as zf:
        assert zf.testzip() is None
        top = f"label-release-{version.name}"
        names = set(zf.namelist())
        for name in ("label_snapshot.npz", "labels.csv", "candidates.csv", "model_card.md", "model_card.json",
                     "environment.txt", "README.md", "MANIFEST.sha256", "constraints.txt"):
            assert f"{top}/{name}" in names, name
        assert verify_manifest(zf) == []
        manifest = zf.read(f"{top}/MANIFEST.sha256").decode().splitlines()
        assert len(manifest) == len(names) - 1  # every file but the manifest itself
        labels = _rows(zf, top, "labels.csv")
        assert len(labels) == version.n_labels and version.n_labels in (79, 80)
        truth = {str(c.pk): t for c, t in pop}
        assert all(row["label_class"] == truth[row["candidate_id"]] for row in labels)
        by_id = {row["candidate_id"]: row for row in labels}
        assert by_id[str(pop[0][0].pk)]["known_answer"] == "1" and all(row["simulated"] == "1" for row in labels)
        injected = by_id.get(str(pop[1][0].pk))
        assert injected is None or injected["injected"] == "1"
        assert sum(row["injected"] == "1" for row in labels) == (injected is not None)
        candidates = _rows(zf, top, "candidates.csv")
        assert len(candidates) == len(labels) and candidates[0]["catalog_id"].startswith("SIM-")
        assert set(version.feature_names) <= set(candidates[0])
        env = zf.read(f"{top}/environment.txt").decode()
        assert "scikit-learn==" in env and "Django==" in env
        zf.extractall(tmp_path)
    # A tampered file fails the manifest.
    buffer = io.BytesIO()
    with zipfile.ZipFile(out) as src, zipfile.ZipFile(buffer, "w") as dst:
        for item in src.namelist():
            data = src.read(item)
            dst.writestr(item, data + b"x" if item.endswith("labels.csv") else data)
    with zipfile.ZipFile(buffer) as zf:
        assert verify_manifest(zf) == ["labels.csv"]
    # Reproduce from the extracted archive alone.
    root = tmp_path / top
    artifact = next((root / "model").glob("*.joblib"))
    assert hashlib.sha256(artifact.read_bytes()).hexdigest() == version.artifact_sha256
    assert main(["reproduce", str(artifact), "--labels", str(root / "label_snapshot.npz")]) == 0


def test_release_api_is_for_curators(version, client, vetter, curator):
    version, _ = version
    url = "/api/exports/release.zip"
    client.force_login(vetter)
    assert client.get(url).status_code == 403
    client.force_login(curator)
    response = client.get(url, {"version": version.name})
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    assert f"label-release-{version.name}.zip" in response["Content-Disposition"]
    with zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content))) as zf:
        assert verify_manifest(zf) == []
    assert client.get(url, {"version": "v999"}).status_code == 404


def test_release_errors_are_clear(version, tmp_path):
    from vetting.learning.services import modelcard

    version, _ = version
    with pytest.raises(CommandError, match="no classifier version 'nope'"):
        call_command("export_release", "--out", str(tmp_path / "a.zip"), "--model", "nope")
    storage, stem = modelcard._storage_and_stem(version)
    storage.delete(stem + modelcard.SNAPSHOT_SUFFIX)
    with pytest.raises(CommandError, match="no stored label snapshot"):
        call_command("export_release", "--out", str(tmp_path / "b.zip"), "--model", str(version.pk))
    assert not (tmp_path / "b.zip").exists()
