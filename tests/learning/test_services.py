"""Services of the learning app on PostgreSQL: requests, the lock, runs, promotion, queue."""
from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from django.utils import timezone

from tests.learning.conftest import label_all, label_fast
from vetting.learning import queue_selectors as page_selectors
from vetting.learning import selectors, services
from vetting.learning.models import ClassifierVersion, MislabelFlag, Prediction, QueueEntry, TrainingRun
from vetting.reviews.models import Consensus, Label

pytestmark = pytest.mark.django_db


def _request(trigger="manual", **kw) -> TrainingRun:
    return services.training_run_request(trigger=trigger, **kw)


def test_request_coalesces_into_one_queued_run(django_capture_on_commit_callbacks, curator):
    with django_capture_on_commit_callbacks() as callbacks:
        first = _request(requested_by=curator)
        second = _request(trigger="api")
    assert first.pk == second.pk and first.state == "queued" and first.requested_by == curator
    assert len(callbacks) == 1  # one enqueue, after commit
    # While it runs, requests coalesce into exactly one follow-up run.
    TrainingRun.objects.filter(pk=first.pk).update(state="running")
    follow_up = _request(trigger="admin")
    assert follow_up.pk != first.pk and _request().pk == follow_up.pk
    assert TrainingRun.objects.filter(state="queued").count() == 1


def test_request_rejects_unknown_trigger():
    with pytest.raises(ValueError, match="unknown trigger"):
        _request(trigger="cron-job")
    assert not TrainingRun.objects.exists()


def test_broker_down_request_stays_queued_and_beat_resends(django_capture_on_commit_callbacks, caplog):
    """A dead broker: the request still returns the queued run; retrain_if_due re-sends it later."""
    from vetting.celery import app

    old_url = app.conf.broker_url
    app.conf.broker_url = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    app._pool = None
    app.amqp._producer_pool = None
    try:
        with django_capture_on_commit_callbacks(execute=True):
            run = _request()
    finally:
        app.conf.broker_url = old_url
        app._pool = None
        app.amqp._producer_pool = None
    run.refresh_from_db()
    assert run.state == "queued" and run.task_id == ""
    assert "broker publish failed" in caplog.text

    app.control.purge()
    TrainingRun.objects.filter(pk=run.pk).update(created_at=timezone.now() - timedelta(minutes=5))
    assert services.retrain_if_due(requeue_after_s=60) is None  # no new labels: no new run
    run.refresh_from_db()
    assert run.task_id  # re-published to the (now reachable) broker
    app.control.purge()


def test_lock_allows_one_running_run(make_population):
    a = TrainingRun.objects.create(state="running", started_at=timezone.now(), heartbeat_at=timezone.now())
    b = TrainingRun.objects.create(state="queued")
    assert services.training_run_execute(run_id=b.pk, rescore="sync") == services.BUSY
    b.refresh_from_db()
    assert b.state == "queued" and b.attempts == 0
    # A redelivered message of the running run does nothing while its heartbeat is fresh.
    assert services.training_run_execute(run_id=a.pk) == services.SKIPPED
    a.refresh_from_db()
    assert a.state == "running"


def test_redelivered_task_of_dead_run_fails_it_and_requests_follow_up(django_capture_on_commit_callbacks):
    old = timezone.now() - timedelta(hours=1)
    run = TrainingRun.objects.create(state="running", started_at=old, heartbeat_at=old)
    with django_capture_on_commit_callbacks():
        assert services.training_run_execute(run_id=run.pk) == services.SKIPPED
    run.refresh_from_db()
    assert run.state == "failed" and "worker lost" in run.error
    assert TrainingRun.objects.filter(state="queued", trigger="schedule").count() == 1
    # Finished or failed runs are never redone.
    assert services.training_run_execute(run_id=run.pk) == services.SKIPPED


def test_recover_stale_runs_fails_dead_runs_only(django_capture_on_commit_callbacks):
    old = timezone.now() - timedelta(minutes=30)
    dead = TrainingRun.objects.create(state="running", started_at=old, heartbeat_at=old)
    with django_capture_on_commit_callbacks():
        assert services.recover_stale_runs(stale_after=120) == 1
        assert services.recover_stale_runs(stale_after=120) == 0  # idempotent
    dead.refresh_from_db()
    assert dead.state == "failed" and "no heartbeat" in dead.error and dead.finished_at
    follow_up = TrainingRun.objects.get(state="queued")
    assert follow_up.trigger == "schedule"
    alive = TrainingRun.objects.create(state="running", started_at=timezone.now(), heartbeat_at=timezone.now())
    assert services.recover_stale_runs(stale_after=120) == 0
    alive.refresh_from_db()
    assert alive.state == "running"


def test_snapshot_hash_is_stable_and_tracks_label_changes(make_population, vetter, curator):
    pop = make_population(12, seed=3)
    label_all(list(reversed(pop)), vetter)
    ids, labels = services.label_snapshot()
    assert list(ids) == sorted(ids) and len(ids) == 12
    h1 = services.snapshot_hash(ids, labels)
    assert services.snapshot_hash(ids[::-1], labels[::-1]) == h1  # order-independent
    assert services.snapshot_hash(*services.label_snapshot()) == h1
    from vetting.reviews.services import curator_label_set

    cand, truth = pop[0]
    curator_label_set(candidate=cand, curator=curator, label_class="J" if truth != "J" else "PC")
    assert services.snapshot_hash(*services.label_snapshot()) != h1


def test_too_few_labels_fail_the_run_with_a_clear_error(make_population, vetter, fast_training):
    label_all(make_population(4, seed=1), vetter)
    run = TrainingRun.objects.create(state="queued")
    assert services.training_run_execute(run_id=run.pk, rescore="sync") == "failed"
    run.refresh_from_db()
    assert run.state == "failed" and "not enough consensus labels" in run.error and run.n_labels == 4
    assert not ClassifierVersion.objects.exists()


def test_retrain_if_due_counts_new_consensus_labels(
    make_population, vetter, settings, django_capture_on_commit_callbacks,
):
    settings.VETTING_RETRAIN_EVERY_N_LABELS = 5
    pop = make_population(9, seed=2)
    with django_capture_on_commit_callbacks():
        label_all(pop[:4], vetter)
        assert services.retrain_if_due() is None
        label_all(pop[4:5], vetter)
        run = services.retrain_if_due()
    assert run is not None and run.trigger == "threshold" and run.state == "queued"
    # Once that run started, labels after its start count toward a retry (no model was promoted,
    # so all 9 are still unseen by an active model); one is enough (threshold // 5).
    TrainingRun.objects.filter(pk=run.pk).update(state="finished", started_at=timezone.now())
    assert selectors.labels_since_last_run() == 0
    with django_capture_on_commit_callbacks():
        label_all(pop[5:9], vetter)
        assert services.retrain_if_due() is not None
    assert selectors.labels_since_last_run() == 4


@pytest.fixture
def trained(make_population, vetter, fast_training, django_capture_on_commit_callbacks):
    """A first promoted version trained on 150 labels, 90 candidates left unlabeled."""
    pop = make_population(240, seed=7)
    label_fast(pop[:150], vetter, flip_every=25)  # 6 deliberate mislabels
    run = services.training_run_request(trigger="manual")
    with django_capture_on_commit_callbacks():
        outcome = services.training_run_execute(run_id=run.pk, rescore="sync")
    run.refresh_from_db()
    assert outcome == "finished", run.error
    return {"pop": pop, "run": run, "version": ClassifierVersion.objects.get(training_run=run)}


def test_first_run_promotes_rescores_and_builds_the_queue(trained, vetter):
    run, version, pop = trained["run"], trained["version"], trained["pop"]
    assert run.state == "finished" and run.progress == 1.0 and run.n_labels == 150
    assert run.label_snapshot_hash == version.label_snapshot_hash and len(version.label_snapshot_hash) == 64
    assert version.status == "promoted" and version.is_active and selectors.active_version() == version
    assert version.artifact_sha256 and services.artifact_path(version).exists()
    assert set(version.classes) == {"PC", "EB", "J"} and version.library_versions["scikit-learn"]
    assert 0.0 <= version.metrics["planet_ap"] <= 1.0
    # Every candidate got exactly one prediction from this version.
    assert Prediction.objects.filter(classifier_version=version).count() == len(pop)
    # The model learned something: unlabeled candidates are mostly classified right.
    unlabeled = {c.pk: t for c, t in pop[150:]}
    preds = selectors.predictions_for(unlabeled)
    right = sum(preds[cid].predicted_class == truth for cid, truth in unlabeled.items())
    assert right / len(unlabeled) > 0.6
    # Queue: unlabeled candidates chosen by the strategies, plus suspected mislabels.
    entries = list(QueueEntry.objects.all())
    assert 0 < len(entries) <= 30 + 5
    labeled_ids = set(Consensus.objects.values_list("candidate_id", flat=True))
    for e in entries:
        assert (e.candidate_id in labeled_ids) == (e.strategy == "mislabel")
    assert {e.strategy for e in entries} & {"uncertainty", "committee", "random"}
    queue = page_selectors.queue_next(user=vetter, limit=10)
    assert len(queue) == 10 and not set(c.pk for c in queue) & set(
        Label.objects.filter(vetter=vetter).values_list("candidate_id", flat=True)
    )

    _check_mislabel_flags(trained)
    _check_rescoring_upserts_in_place(trained)


def _check_mislabel_flags(trained):
    flags = list(MislabelFlag.objects.filter(training_run=trained["run"], is_open=True))
    assert 0 < len(flags) <= 5
    truth = {c.pk: t for c, t in trained["pop"]}
    flipped = [f for f in flags if f.given_class != truth[f.candidate_id]]
    assert flipped, "the out-of-fold model should find at least one deliberate mislabel"
    for f in flags:
        assert f.suggested_class != f.given_class and 0.0 <= f.score < 0.5
    assert QueueEntry.objects.filter(strategy="mislabel").count() == len(flags)


def _check_rescoring_upserts_in_place(trained):
    version = trained["version"]
    ids = [c.pk for c, _ in trained["pop"][:50]]
    Prediction.objects.filter(classifier_version=version, candidate_id__in=ids).update(p_planet=-1.0)
    assert services.predictions_upsert_chunk(version_id=version.pk, candidate_ids=ids + [999_999_999]) == 50
    assert Prediction.objects.filter(classifier_version=version).count() == len(trained["pop"])
    assert not Prediction.objects.filter(p_planet__lt=0).exists()


def test_model_trained_on_scrambled_labels_is_judged_on_the_current_labels(
        trained, django_capture_on_commit_callbacks):
    """Scramble the labels: both models are then judged on the scrambled labels (the same for
    both), so the decision and its reason name the active model and the shared label count."""
    first = trained["version"]
    rng = np.random.default_rng(0)
    for row in Consensus.objects.all():
        row.label_class = ("PC", "EB", "J")[int(rng.integers(3))]
        row.save(update_fields=["label_class"])
    run = services.training_run_request(trigger="manual")
    with django_capture_on_commit_callbacks():
        assert services.training_run_execute(run_id=run.pk, rescore="sync") == "finished"
    second = ClassifierVersion.objects.get(training_run=run)
    assert first.name in second.decision_reason and "same 150 labels" in second.decision_reason
    assert second.comparison["against"] == first.name
    curve = selectors.learning_curve()
    assert [p["name"] for p in curve] == [first.name, second.name]
    assert curve[1]["metrics"]["planet_ap"] == second.metrics["planet_ap"]
    if second.status == "rejected":
        first.refresh_from_db()
        assert first.is_active and not Prediction.objects.filter(classifier_version=second).exists()


def test_better_model_replaces_the_active_one(trained, vetter2, django_capture_on_commit_callbacks):
    first = trained["version"]
    label_fast(trained["pop"][150:200], vetter2)
    run = services.training_run_request(trigger="manual")
    with django_capture_on_commit_callbacks():
        assert services.training_run_execute(run_id=run.pk, rescore="sync") == "finished"
    second = ClassifierVersion.objects.get(training_run=run)
    first.refresh_from_db()
    if second.status == "promoted":
        assert second.is_active and not first.is_active and first.status == "retired"
        assert Prediction.objects.filter(classifier_version=second).count() == len(trained["pop"])
        # Candidates labeled since are no longer queued as unlabeled.
        newly = [c.pk for c, _ in trained["pop"][150:200]]
        assert not QueueEntry.objects.filter(candidate_id__in=newly).exclude(strategy="mislabel").exists()
    else:  # not promoted: the reason names the metrics that got worse
        assert "worse" in second.decision_reason and first.is_active


def test_site_query_mix_is_the_benchmarked_default_mix():
    # bench/bench_active_learning.py measures classifier.active.DEFAULT_MIX; the queue uses the setting.
    from classifier.active import DEFAULT_MIX
    from vetting.settings import base

    assert base.VETTING_QUERY_MIX == DEFAULT_MIX
