"""Reproducing a model from its label snapshot: the command line and the site's background job."""
from __future__ import annotations

import json

import numpy as np
import pytest

from classifier.cli import main
from classifier.persistence import save_artifact
from classifier.reproduce import (
    CROSS_VERSION_TOLERANCE,
    LabelSnapshot,
    SnapshotError,
    read_snapshot,
    reproduce,
    write_snapshot,
)
from classifier.training import train


def _data(n=120, d=10, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.choice(["PC", "EB", "J"], n)
    X = rng.normal(size=(n, d)).astype(np.float32)
    X[:, 0] += 2 * (y == "PC")
    X[:, 1] += 2 * (y == "EB")
    X[rng.random((n, d)) < 0.05] = np.nan  # missing values travel through the snapshot as NaN
    return X, y, np.arange(n) // 2, [f"f{i}" for i in range(d)]


@pytest.fixture
def trained_files(tmp_path):
    """An artifact trained like the site trains (float32 matrix cast to float64) and its snapshot."""
    X, y, groups, names = _data()
    result = train(X.astype(np.float64), y.astype(object), groups, seed=11, profile="fast", n_splits=2,
                   families=["logistic", "extra_trees"])
    snap = LabelSnapshot(candidate_ids=np.arange(len(y)) + 1000, groups=groups, X=X, y=y, feature_names=names)
    artifact = save_artifact(result.model, tmp_path, feature_names=names, classes=result.classes, seed=11,
                             label_hash=snap.label_hash(), metrics=result.metrics)
    write_snapshot(tmp_path / "labels.npz", snap)
    return artifact, tmp_path / "labels.npz", result


def test_snapshot_round_trip_keeps_every_number(trained_files):
    _, path, _ = trained_files
    X, y, groups, names = _data()
    snap = read_snapshot(path)
    assert snap.X.shape == X.shape and np.array_equal(snap.X, X.astype(np.float64), equal_nan=True)
    assert snap.y.tolist() == y.tolist() and snap.feature_names == names and snap.groups.dtype == np.int64
    assert snap.meta["label_snapshot_hash"] == snap.label_hash()
    assert snap.counts()["per_source"]["team"] == len(y)


def test_reproduce_command_on_the_same_machine_is_exact(trained_files, tmp_path, capsys):
    artifact, labels, _ = trained_files
    assert main(["reproduce", str(artifact), "--labels", str(labels), "--json", str(tmp_path / "r.json")]) == 0
    result = json.loads((tmp_path / "r.json").read_text())
    assert result["matches"] and result["hash_matches"] and result["differing_versions"] == {}
    assert result["max_abs_diff"] < 1e-12 and result["max_abs_diff_oof"] < 1e-12
    assert result["n_candidates"] == 120 and result["hyperparameters"]["random_state"] == 11
    assert "reproduced: max |p_original - p_refit| = 0" in capsys.readouterr().out


def test_other_library_versions_get_the_stated_tolerance_and_are_named(trained_files):
    from classifier.persistence import load_artifact

    artifact, labels, _ = trained_files
    art = load_artifact(artifact)
    installed = {**art.metadata["library_versions"], "scikit-learn": "0.0.1", "code": art.metadata["code_version"]}
    result = reproduce(art.model, art.metadata, read_snapshot(labels), installed=installed)
    assert result.tolerance == CROSS_VERSION_TOLERANCE and result.matches
    assert result.differing_versions == {
        "scikit-learn": {"recorded": art.metadata["library_versions"]["scikit-learn"], "installed": "0.0.1"}}
    assert "scikit-learn" in result.summary()


def test_other_labels_do_not_reproduce_and_exit_1(trained_files, tmp_path, capsys):
    artifact, labels, _ = trained_files
    snap = read_snapshot(labels)
    y = snap.y.copy()
    y[::4] = np.where(y[::4] == "PC", "EB", "PC")  # a different label set, same classes
    write_snapshot(tmp_path / "other.npz", LabelSnapshot(candidate_ids=snap.candidate_ids, groups=snap.groups,
                                                         X=snap.X, y=y, feature_names=snap.feature_names))
    with pytest.raises(SystemExit) as exc:
        main(["reproduce", str(artifact), "--labels", str(tmp_path / "other.npz")])
    assert exc.value.code == 1
    out = capsys.readouterr().out
    assert "NOT reproduced" in out and "label snapshot hash" in out and "differs" in out


def test_bad_input_is_a_clear_error(trained_files, tmp_path, capsys):
    artifact, _, _ = trained_files
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    assert main(["reproduce", str(artifact), "--labels", str(tmp_path / "junk.npz")]) == 2
    assert "cannot read the label snapshot" in capsys.readouterr().err
    np.savez(tmp_path / "partial.npz", X=np.zeros((2, 2)))
    assert main(["reproduce", str(artifact), "--labels", str(tmp_path / "partial.npz")]) == 2
    assert "not a label snapshot" in capsys.readouterr().err
    with pytest.raises(SnapshotError, match="expected"):
        LabelSnapshot(candidate_ids=[1, 2], groups=[1, 2], X=np.zeros((2, 3)), y=["PC", "EB"], feature_names=["a"])


# -- the site ------------------------------------------------------------------------------------

@pytest.fixture
def site_version(make_population, vetter, fast_training, django_capture_on_commit_callbacks):
    from tests.learning.conftest import label_fast
    from vetting.learning import services
    from vetting.learning.models import ClassifierVersion

    pop = make_population(90, seed=5)
    label_fast(pop, vetter)
    run = services.training_run_request(trigger="manual")
    with django_capture_on_commit_callbacks():
        assert services.training_run_execute(run_id=run.pk, rescore="sync") == "finished"
    return ClassifierVersion.objects.get(training_run=run)


@pytest.mark.django_db
def test_site_version_stores_its_snapshot_and_reproduces_exactly(site_version, curator,
                                                                 django_capture_on_commit_callbacks):
    from vetting.learning.services import modelcard

    version = site_version
    snap = modelcard.read_snapshot(version)
    assert snap.label_hash() == version.label_snapshot_hash and len(snap.y) == version.n_labels == 90
    assert snap.feature_names == list(version.feature_names) and snap.X.shape == (90, len(version.feature_names))
    with django_capture_on_commit_callbacks() as callbacks:
        state = modelcard.reproduce_request(version=version, requested_by=curator)
        again = modelcard.reproduce_request(version=version, requested_by=curator)  # coalesces
    assert state["state"] == again["state"] == "queued" and len(callbacks) == 1
    final = modelcard.reproduce_execute(version_id=version.pk)
    assert final["state"] == "finished", final.get("error")
    assert final["matches"] and final["hash_matches"] and final["max_abs_diff"] < 1e-12
    assert modelcard.version_card(version)["reproduction"]["max_abs_diff"] == final["max_abs_diff"]
    assert "reproduced" in modelcard.read_file(version, modelcard.CARD_MD_SUFFIX).decode()


@pytest.mark.django_db
def test_reproduce_task_runs_the_service(site_version):
    from vetting.learning.tasks import reproduce_version

    assert reproduce_version.apply(args=[site_version.pk]).get() == "finished"


@pytest.mark.django_db
def test_version_without_snapshot_cannot_be_reproduced(site_version, client, curator):
    from vetting.learning.services import modelcard

    storage, stem = modelcard._storage_and_stem(site_version)
    storage.delete(stem + modelcard.SNAPSHOT_SUFFIX)
    with pytest.raises(modelcard.SnapshotMissing, match="no stored label snapshot"):
        modelcard.reproduce_request(version=site_version)
    client.force_login(curator)
    page = client.post(f"/models/{site_version.pk}/reproduce/", follow=True)
    assert "no stored label snapshot" in page.content.decode()
    assert "cannot be reproduced" in page.content.decode()


@pytest.mark.django_db
def test_base_model_snapshot_is_public_labels_and_reproduces(tmp_path, fast_training):
    from django.core.management import call_command

    from tests.learning.test_learning_loop import _write_views_bundle
    from vetting.learning.models import ClassifierVersion
    from vetting.learning.services import modelcard

    _write_views_bundle(tmp_path, 60, seed=3)
    call_command("warm_start", "--from-views", str(tmp_path))
    base = ClassifierVersion.objects.get(origin="base")
    snap = modelcard.read_snapshot(base)
    assert snap.counts()["per_source"]["public"] == base.n_labels == len(snap.y)
    card = modelcard.version_card(base)
    assert card["details"]["source"] == tmp_path.name and card["training_data"]["per_source"]["public"] == base.n_labels
    final = modelcard.reproduce_execute(version_id=base.pk)
    assert final["state"] == "finished" and final["matches"] and final["max_abs_diff"] < 1e-12, final
