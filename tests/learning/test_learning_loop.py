"""The learning loop a team feels: fair promotion on the same labels, no empty versions, labels
that keep counting after a rejection, a retrain check right after label commits, the curators'
queue mix, the warm start with a base model."""
from __future__ import annotations

import numpy as np
import pytest

from tests.learning.conftest import TEST_CLASSES, label_fast, synthetic_views
from vetting.learning import selectors, services
from vetting.learning.models import ClassifierVersion, QueueEntry, QueueSettings, TrainingRun

pytestmark = pytest.mark.django_db


def _run_sync(django_capture_on_commit_callbacks):
    run = services.training_run_request(trigger="manual")
    with django_capture_on_commit_callbacks():
        outcome = services.training_run_execute(run_id=run.pk, rescore="sync")
    run.refresh_from_db()
    assert outcome == "finished", run.error
    return run


@pytest.fixture
def first_model(make_population, vetter, fast_training, django_capture_on_commit_callbacks):
    pop = make_population(200, seed=11)
    label_fast(pop[:120], vetter)
    run = _run_sync(django_capture_on_commit_callbacks)
    return {"pop": pop, "version": ClassifierVersion.objects.get(training_run=run)}


def test_promotion_compares_both_models_on_the_same_labels(first_model, vetter2, django_capture_on_commit_callbacks):
    first = first_model["version"]
    label_fast(first_model["pop"][120:170], vetter2)
    run = _run_sync(django_capture_on_commit_callbacks)
    second = ClassifierVersion.objects.get(training_run=run)
    cmp = second.comparison
    assert cmp["against"] == first.name and cmp["n"] == 170
    # The active model answered its own 120 training rows out of fold and predicted the 50 new ones.
    assert (cmp["own_oof"], cmp["predicted"]) == (120, 50)
    for key in ("planet_ap", "triage_ap", "accuracy", "ece"):
        assert cmp[key]["low"] <= cmp[key]["diff"] <= cmp[key]["high"]
    assert "same 170 labels" in second.decision_reason and first.name in second.decision_reason
    assert second.status == ("rejected" if any(cmp[k]["failed"] for k in ("planet_ap", "triage_ap", "accuracy", "ece"))
                             else "promoted")


def test_a_model_worse_on_the_same_labels_is_rejected_and_the_page_marks_it(
        first_model, vetter2, client, curator, monkeypatch, django_capture_on_commit_callbacks):
    """Out-of-fold probabilities shuffled between rows: the same labels show the new model worse."""
    import classifier.training

    real_train = classifier.training.train

    def shuffled(*args, **kwargs):
        result = real_train(*args, **kwargs)
        result.oof_proba = np.random.default_rng(0).permutation(result.oof_proba)
        return result

    monkeypatch.setattr(classifier.training, "train", shuffled)
    first = first_model["version"]
    label_fast(first_model["pop"][120:140], vetter2)
    run = _run_sync(django_capture_on_commit_callbacks)
    second = ClassifierVersion.objects.get(training_run=run)
    assert second.status == "rejected" and not second.is_active
    assert "worse beyond tolerance" in second.decision_reason and "planet_ap" in second.decision_reason
    first.refresh_from_db()
    assert first.is_active
    # A rejection does not reset the count: the 20 labels still count toward the next run.
    status = selectors.retrain_status()
    assert status["unseen"] == 20

    client.force_login(curator)
    page = client.get("/learning/").content.decode()
    assert f"{second.name}" in page and "rejected" in page
    figure = [t for t in _figure(page)["data"] if t["name"].endswith("(rejected)")]
    assert figure and all(t["mode"] == "markers" and t["marker"]["symbol"] == "x" for t in figure)


def _figure(page: str) -> dict:
    import json
    import re

    data = re.search(r'<script id="figure-data" type="application/json">(.*?)</script>', page, re.S).group(1)
    return json.loads(data)["learning_curve"]


def test_retrain_without_new_labels_makes_no_version(first_model, django_capture_on_commit_callbacks):
    before = ClassifierVersion.objects.count()
    run = _run_sync(django_capture_on_commit_callbacks)
    assert ClassifierVersion.objects.count() == before
    assert run.state == "finished" and "no new labels since" in run.message
    assert first_model["version"].name in run.message


def test_retrain_with_other_folds_on_the_same_labels_makes_a_version(first_model, settings,
                                                                     django_capture_on_commit_callbacks):
    """Changing a training setting is not "no new labels": the same snapshot with other folds
    is a different fit."""
    version = first_model["version"]
    folds = version.metrics["cv_folds_requested"]
    settings.VETTING_TRAINING_CV_FOLDS = folds + 1
    before = ClassifierVersion.objects.count()
    run = _run_sync(django_capture_on_commit_callbacks)
    assert "no new labels since" not in run.message
    assert ClassifierVersion.objects.count() == before + 1
    assert ClassifierVersion.objects.latest("pk").metrics["cv_folds_requested"] == folds + 1


def test_labels_keep_counting_after_a_rejection_and_a_retry_follows_sooner(
        make_population, vetter, settings, django_capture_on_commit_callbacks):
    settings.VETTING_RETRAIN_EVERY_N_LABELS = 10
    pop = make_population(30, seed=5)
    with django_capture_on_commit_callbacks():
        label_fast(pop[:9], vetter)
        assert services.retrain_if_due() is None
        label_fast(pop[9:10], vetter)
        run = services.retrain_if_due()
    assert run is not None and run.trigger == "threshold"
    # That run ended without promoting anything (no active model): the labels still count, and
    # a retry needs only threshold // 5 = 2 labels since it started, not 10.
    from django.utils import timezone

    TrainingRun.objects.filter(pk=run.pk).update(state="finished", started_at=timezone.now())
    with django_capture_on_commit_callbacks():
        label_fast(pop[10:11], vetter)
        assert services.retrain_if_due() is None
        label_fast(pop[11:12], vetter)
        retry = services.retrain_if_due()
    assert retry is not None and retry.pk != run.pk
    status = selectors.retrain_status()
    assert status["unseen"] == 12 and status["retry_after"] == 2


def test_a_label_commit_sends_one_coalesced_retrain_check(make_population, vetter, settings, monkeypatch,
                                                          django_capture_on_commit_callbacks):
    from django.core.cache import cache

    from vetting.reviews.services import label_create

    sent = []
    monkeypatch.setattr("vetting.core.jobs.publish", lambda name, args, **opts: sent.append((name, opts)) or
                        type("R", (), {"id": "t1"})())
    settings.VETTING_RETRAIN_CHECK_DELAY_S = 30
    cache.clear()
    pop = make_population(3, seed=1)
    with django_capture_on_commit_callbacks(execute=True):
        label_create(candidate=pop[0][0], vetter=vetter, label_class="PC")
    with django_capture_on_commit_callbacks(execute=True):
        label_create(candidate=pop[1][0], vetter=vetter, label_class="EB")
    checks = [s for s in sent if s[0] == "vetting.learning.tasks.retrain_if_due"]
    assert len(checks) == 1 and checks[0][1]["countdown"] == 30  # the second label fell in the window
    cache.clear()  # the window passed
    with django_capture_on_commit_callbacks(execute=True):
        label_create(candidate=pop[2][0], vetter=vetter, label_class="J")
    assert len([s for s in sent if s[0] == "vetting.learning.tasks.retrain_if_due"]) == 2


def test_queue_mix_is_a_curator_setting_used_by_the_queue(first_model, client, curator, vetter, settings,
                                                          monkeypatch, django_capture_on_commit_callbacks):
    assert selectors.query_mix_is_default()
    assert selectors.query_mix() == pytest.approx(
        {k: v / sum(settings.VETTING_QUERY_MIX.values()) for k, v in settings.VETTING_QUERY_MIX.items()})
    client.force_login(vetter)
    assert client.post("/learning/queue-mix/", {"share_random": "100"}).status_code == 403
    client.force_login(curator)
    page = client.get("/learning/").content.decode()
    assert "teach the model most" in page and 'name="share_planet"' in page
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post("/learning/queue-mix/", {"share_planet": "70", "share_random": "30"})
    assert response.status_code == 302 and len(callbacks) == 1  # the rebuild is sent after commit
    assert QueueSettings.objects.get().mix == {"planet": 70.0, "random": 30.0}
    assert selectors.query_mix() == pytest.approx({"planet": 0.7, "random": 0.3})
    services.queue_rebuild()
    strategies = set(QueueEntry.objects.values_list("strategy", flat=True))
    assert strategies <= {"planet", "random", "mislabel", "re-vet"} and "planet" in strategies
    # Nonsense is refused with a message, nothing stored.
    with django_capture_on_commit_callbacks(execute=False):
        client.post("/learning/queue-mix/", {"share_planet": "-5"})
    assert QueueSettings.objects.get().mix == {"planet": 70.0, "random": 30.0}


def _write_views_bundle(folder, n, seed):
    """An Astronet-Triage-style bundle (candidates.csv + views.npz) of learnable synthetic TCEs."""
    import csv

    rng = np.random.default_rng(seed)
    labels = [("PC", "EB", "J")[i % 3] for i in range(n)]
    views = [synthetic_views(label, rng) for label in labels]
    with open(folder / "candidates.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["candidate_id", "tic_id", "label_4class", "split", "period_days", "transit_depth_ppm", "snr"])
        for i, (label, (_, _, s)) in enumerate(zip(labels, views)):
            w.writerow([f"TIC{i}-1", i, label, "train" if i % 4 else "val", s["period_days"], s["depth_ppm"], s["snr"]])
    np.savez(folder / "views.npz", candidate_id=np.array([f"TIC{i}-1" for i in range(n)]),
             global_view=np.stack([v[0] for v in views]), local_view=np.stack([v[1] for v in views]))


def test_warm_start_installs_a_base_model_that_the_team_model_replaces_when_not_worse(
        make_population, vetter, fast_training, tmp_path, django_capture_on_commit_callbacks):
    from django.core.management import call_command

    _write_views_bundle(tmp_path, 150, seed=3)
    pop = make_population(120, seed=4, classes=TEST_CLASSES)
    call_command("warm_start", "--from-views", str(tmp_path), "--split", "train")
    base = ClassifierVersion.objects.get(origin="base")
    assert base.is_active and base.status == "promoted" and base.n_labels == 112  # the train rows only
    assert "public labels" in base.decision_reason
    assert QueueEntry.objects.exists() and base.predictions.count() == len(pop)
    # The team's labels: all of them are unseen by the base model.
    label_fast(pop[:80], vetter)
    assert selectors.labels_unseen_by_active() == 80
    run = _run_sync(django_capture_on_commit_callbacks)
    team = ClassifierVersion.objects.get(training_run=run)
    assert team.origin == "team" and team.comparison["against"] == base.name
    assert team.comparison["predicted"] == 80  # the base model answered every team label out of sample
    if team.status == "promoted":
        base.refresh_from_db()
        assert team.is_active and not base.is_active
    else:
        assert "worse" in team.decision_reason


def test_warm_start_refuses_a_bundle_without_labels(tmp_path, db):
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError):
        call_command("warm_start", "--from-views", str(tmp_path))


def test_loop_reads_have_bounded_query_counts(first_model, django_assert_max_num_queries):
    with django_assert_max_num_queries(4):
        status = selectors.retrain_status()
    assert status["unseen"] == 0 and not status["due"]
    with django_assert_max_num_queries(1):
        assert selectors.query_mix()
