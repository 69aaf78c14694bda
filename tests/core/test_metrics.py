"""/metrics: who may read it, what it reports (request latency by view, domain collectors read
from the database), and that an empty database and a failing collector do not break it."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from vetting.core import metrics

pytestmark = pytest.mark.django_db
TOKEN = "s3cret-metrics-token"


def samples(body: bytes) -> dict:
    """{(name, frozenset(labels)): value} of a /metrics body."""
    out = {}
    for family in text_string_to_metric_families(body.decode()):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


@override_settings(VETTING_METRICS_TOKEN=TOKEN)
def test_anonymous_and_wrong_token_get_401_non_staff_403(client, vetter):
    url = reverse("metrics")
    anonymous = client.get(url)
    assert anonymous.status_code == 401 and anonymous["WWW-Authenticate"].startswith("Bearer")
    assert client.get(url, HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    assert client.get(url, HTTP_AUTHORIZATION=f"Basic {TOKEN}").status_code == 401
    client.force_login(vetter)
    assert client.get(url).status_code == 403


@override_settings(VETTING_METRICS_TOKEN="")
def test_an_empty_token_setting_accepts_no_token(client):
    assert client.get(reverse("metrics"), HTTP_AUTHORIZATION="Bearer ").status_code == 401


@override_settings(VETTING_METRICS_TOKEN=TOKEN)
def test_token_and_staff_read_metrics_of_an_empty_database(client, django_user_model):
    response = client.get(reverse("metrics"), HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/plain")
    values = samples(response.content)
    for name in metrics.registered():
        assert values[("vetting_collector_up", frozenset({("collector", name)}))] == 1.0, name
    assert values[("vetting_training_runs_failed_total", frozenset())] == 0
    assert values[("vetting_import_jobs_duration_seconds_count", frozenset())] == 0
    assert values[("vetting_model_predictions", frozenset())] == 0
    staff = django_user_model.objects.create_user(username="ops", password="pw", is_staff=True)
    client.force_login(staff)
    assert client.get(reverse("metrics")).status_code == 200


@override_settings(VETTING_METRICS_TOKEN=TOKEN, VETTING_METRICS_CACHE_S=0)
def test_domain_metrics_follow_the_database(client, make_candidate, vetter):
    from tests.learning.test_health import label, make_version, predict
    from vetting.learning.models import QueueEntry, TrainingRun

    now = timezone.now()
    for state, minutes in (("finished", 2), ("finished", 40), ("failed", 1)):
        TrainingRun.objects.create(state=state, started_at=now - timedelta(minutes=minutes), finished_at=now)
    TrainingRun.objects.create(state="running", started_at=now - timedelta(hours=1),
                               heartbeat_at=now - timedelta(hours=1))  # its worker is gone
    version = make_version(now - timedelta(days=3))
    a, b, c = make_candidate(), make_candidate(), make_candidate()
    predict(version, a, "PC", 0.9)
    predict(version, b, "EB", 0.45)
    predict(version, c, "PC", 0.55)
    label(a, vetter, "PC", now - timedelta(days=1))
    label(b, vetter, "PC", now - timedelta(days=1))
    QueueEntry.objects.create(candidate=c, priority=1.0, strategy="planet")

    values = samples(client.get(reverse("metrics"), HTTP_AUTHORIZATION=f"Bearer {TOKEN}").content)
    run_states = {s: values[("vetting_training_runs", frozenset({("state", s)}))]
                  for s in ("queued", "running", "finished", "failed")}
    assert run_states == {"queued": 0, "running": 1, "finished": 2, "failed": 1}
    assert values[("vetting_training_runs_failed_total", frozenset())] == 1
    assert values[("vetting_training_runs_duration_seconds_bucket", frozenset({("le", "300.0")}))] == 1
    assert values[("vetting_training_runs_duration_seconds_bucket", frozenset({("le", "3600.0")}))] == 2
    assert values[("vetting_training_runs_duration_seconds_sum", frozenset())] == pytest.approx(42 * 60, abs=1)
    assert values[("vetting_training_runs_stale_running", frozenset())] == 1
    assert values[("vetting_training_runs_heartbeat_age_seconds", frozenset())] >= 3599
    assert values[("vetting_labels_created_total", frozenset({("source", "human")}))] == 2
    assert values[("vetting_queue_depth", frozenset({("strategy", "planet")}))] == 1
    v = frozenset({("version", version.name)})
    assert values[("vetting_model_agreement_n", v)] == 2 and values[("vetting_model_agreement", v)] == 0.5
    assert values[("vetting_model_near_half_share", frozenset())] == pytest.approx(2 / 3)
    assert any(name == "vetting_broker_queue_length" for name, _ in values)
    # request latency by view, from the library's middleware
    assert any(name.startswith("django_http_requests_latency_seconds_by_view_method") for name, _ in values)


def test_collectors_are_cached_and_a_failing_one_is_reported_not_raised(settings):
    settings.VETTING_METRICS_CACHE_S = 30
    calls = []

    def counting():
        calls.append(1)
        from prometheus_client.core import GaugeMetricFamily

        return [GaugeMetricFamily("vetting_test_gauge", "test", value=len(calls))]

    def broken():
        raise RuntimeError("database on fire")

    metrics.register("test_counting", counting)
    metrics.register("test_broken", broken)
    try:
        first = samples(metrics.render()[0])
        second = samples(metrics.render()[0])
    finally:
        metrics._collectors.pop("test_counting")
        metrics._collectors.pop("test_broken")
    assert len(calls) == 1 and first[("vetting_test_gauge", frozenset())] == second[("vetting_test_gauge", frozenset())]
    assert first[("vetting_collector_up", frozenset({("collector", "test_broken")}))] == 0
