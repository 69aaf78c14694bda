"""Model health over time: agreement of the active model with consensus labels made after its
promotion (with a Wilson interval) and the near-0.5 share, from labels at controlled times."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from classifier.health_plots import health_figure
from vetting.learning import health
from vetting.learning.models import ClassifierVersion, Prediction
from vetting.reviews.models import Consensus, Label
from vetting.reviews.stats import wilson

pytestmark = pytest.mark.django_db


def make_version(promoted_at, *, name="v-health", active=True) -> ClassifierVersion:
    return ClassifierVersion.objects.create(
        name=name, artifact="models/x.skops", artifact_sha256="0" * 64, label_snapshot_hash="h", classes=["PC", "EB"],
        is_active=active, status="promoted", promoted_at=promoted_at)


def predict(version, candidate, predicted: str, p_planet: float, *, at=None) -> Prediction:
    p = Prediction.objects.create(
        candidate=candidate, classifier_version=version, probabilities={predicted: 1.0}, predicted_class=predicted,
        p_planet=p_planet, p_triage=p_planet, uncertainty=0.1)
    if at is not None:
        Prediction.objects.filter(pk=p.pk).update(created_at=at)
    return p


def label(candidate, user, label_class: str, at, *, consensus: str | None = None, method="dawid_skene") -> Label:
    """A human label made at ``at`` and the candidate's consensus (``consensus`` or the label's class)."""
    row = Label.objects.create(candidate=candidate, vetter=user, label_class=label_class, confidence=1.0)
    Label.objects.filter(pk=row.pk).update(created_at=at)
    Consensus.objects.update_or_create(candidate=candidate, defaults={
        "label_class": consensus or label_class, "agreement": 1.0, "n_labels": 1, "method": method})
    return row


@pytest.fixture
def history(make_candidate, vetter):
    """Promoted 20 days ago. Week 0: 3 labels, 2 agree; week 1: none; week 2: 2 labels, 0 agree.
    Before promotion: one label (ignored); one catalog consensus (ignored). Predictions: 10 at
    promotion (3 near 0.5), 2 new in week 2 (both near 0.5)."""
    now = timezone.now()
    promoted = now - timedelta(days=20)
    version = make_version(promoted)
    cands = [make_candidate() for _ in range(12)]
    p_planets = [0.45, 0.5, 0.6, 0.9, 0.1, 0.95, 0.05, 0.8, 0.2, 0.7]
    for cand, p in zip(cands[:10], p_planets, strict=True):
        predict(version, cand, "PC" if p >= 0.5 else "EB", p, at=promoted - timedelta(seconds=5))
    for cand in cands[10:]:
        predict(version, cand, "PC", 0.55, at=promoted + timedelta(days=15))
    # week 0 (days 0-7): cands 3 (PC, agrees), 5 (PC, agrees), 4 (EB predicted, labeled PC: disagrees)
    label(cands[3], vetter, "PC", promoted + timedelta(days=1))
    label(cands[5], vetter, "PC", promoted + timedelta(days=2))
    label(cands[4], vetter, "PC", promoted + timedelta(days=6))
    # week 2 (days 14-20): cands 7 (PC predicted) and 10 (PC predicted), both labeled EB
    label(cands[7], vetter, "EB", promoted + timedelta(days=14, hours=1))
    label(cands[10], vetter, "EB", promoted + timedelta(days=16))
    # ignored: a label before promotion, a catalog consensus
    label(cands[9], vetter, "EB", promoted - timedelta(days=1))
    Consensus.objects.create(candidate=cands[8], label_class="EB", agreement=1, n_labels=0, method="catalog")
    return version, now


def test_live_agreement_counts_only_labels_since_promotion(history):
    version, _ = history
    live = health.live_agreement()
    expected = wilson(2, 5)
    assert (live["version"], live["n"], live["agree"]) == (version.name, 5, 2)
    assert live["value"] == pytest.approx(0.4)
    assert (live["low"], live["high"]) == pytest.approx((expected.low, expected.high))
    near = health.live_near_half()
    assert (near["n"], near["near"]) == (12, 5)  # 0.45, 0.5, 0.6 and the two new 0.55
    assert near["share"] == pytest.approx(5 / 12)


def test_health_over_time_weekly_buckets(history):
    version, now = history
    buckets = health.health_over_time(version, bucket_days=7, now=now)
    assert len(buckets) == 3
    assert [(b.n, b.agree) for b in buckets] == [(3, 2), (0, 0), (2, 0)]
    assert buckets[0].value == pytest.approx(2 / 3) and buckets[1].value is None and buckets[2].value == 0.0
    assert buckets[0].low == pytest.approx(wilson(2, 3).low)
    # predictions written at promotion (5 s before it) fall in the first bucket
    assert [(b.n_scored, b.near) for b in buckets] == [(10, 3), (0, 0), (2, 2)]
    assert buckets[2].near_share == 1.0 and buckets[1].near_share is None
    assert buckets[1].start == version.promoted_at + timedelta(days=7)


def test_a_newer_label_moves_the_candidate_to_its_bucket(history, vetter2):
    version, now = history
    early = Label.objects.filter(label_class="PC", created_at__lt=version.promoted_at + timedelta(days=3))
    cand = early.first().candidate
    row = Label.objects.create(candidate=cand, vetter=vetter2, label_class="PC", confidence=1.0)
    Label.objects.filter(pk=row.pk).update(created_at=version.promoted_at + timedelta(days=8))
    buckets = health.health_over_time(version, bucket_days=7, now=now)
    assert [b.n for b in buckets] == [2, 1, 2]
    assert sum(b.n for b in buckets) == health.live_agreement()["n"]


def test_empty_database_and_unpromoted_version():
    assert health.live_agreement() == {"version": None, "n": 0, "agree": 0, "value": None, "low": None, "high": None}
    assert health.live_near_half() == {"n": 0, "near": 0, "share": None}
    version = make_version(None, active=False)
    assert health.health_over_time(version) == []
    fresh = make_version(timezone.now(), name="v-fresh", active=True)
    assert [(b.n, b.n_scored) for b in health.health_over_time(fresh)] == [(0, 0)]


def test_health_figure_is_a_plain_plotly_dict(history):
    version, now = history
    buckets = [b.as_dict() for b in health.health_over_time(version, now=now)]
    fig = health_figure(buckets)
    agreement = next(t for t in fig["data"] if t["name"].startswith("Agreement"))
    assert agreement["y"] == [pytest.approx(2 / 3), None, 0.0]
    assert agreement["error_y"]["array"][0] == pytest.approx(wilson(2, 3).high - 2 / 3)
    near = next(t for t in fig["data"] if t["name"].startswith("Near"))
    assert near["y"][2] == 1.0
    import plotly.graph_objects as go  # the figure is valid plotly (dev dependency)

    go.Figure(fig)
    assert health_figure([])["data"] == []


def test_health_api_and_model_page(history, client, vetter):
    version, _ = history
    client.force_login(vetter)
    response = client.get(reverse("api:classifier-version-health", args=[version.pk]) + "?bucket_days=7")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["version"] == version.name and body["live"]["n"] == 5 and body["live"]["agree"] == 2
    assert [b["n"] for b in body["buckets"]] == [3, 0, 2]
    assert client.get(reverse("api:classifier-version-health", args=[version.pk]) + "?bucket_days=0").status_code == 400
    assert client.get(reverse("api:classifier-version-health", args=[999999])).status_code == 404
    page = client.get(reverse("learning-curves"))
    assert page.status_code == 200
    assert b'data-figure="model_health"' in page.content and b"2 of 5" in page.content
