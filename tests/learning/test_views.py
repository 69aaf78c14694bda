"""The learning page, the "Retrain now" button (curators only) and the progress endpoint."""
from __future__ import annotations

import pytest
from django.urls import reverse

from vetting.learning.models import ClassifierVersion, TrainingRun

pytestmark = pytest.mark.django_db


def test_page_lists_runs_versions_and_curve(client, vetter):
    run = TrainingRun.objects.create(state="failed", progress=0.3, error="NotEnoughLabels: too few")
    ClassifierVersion.objects.create(
        name="v1", artifact="models/x.joblib", artifact_sha256="0" * 64, label_snapshot_hash="1" * 64,
        n_labels=42, metrics={"planet_ap": 0.81, "triage_ap": 0.9}, status="rejected",
        decision_reason="worse: planet_ap",
    )
    client.force_login(vetter)
    page = client.get(reverse("learning-curves"))
    html = page.content.decode()
    assert page.status_code == 200
    assert "0.810" in html and "worse: planet_ap" in html and "NotEnoughLabels" in html
    assert reverse("job-training-progress", args=[run.pk]) in html
    assert 'data-figure="learning_curve"' in html and "figure-data" in html
    assert "Retrain now" not in html  # vetters see no button


def test_retrain_button_is_for_curators_only(client, vetter, curator, django_capture_on_commit_callbacks):
    client.force_login(vetter)
    assert client.post(reverse("trainingrun-create")).status_code == 403
    assert not TrainingRun.objects.exists()
    client.force_login(curator)
    assert "Retrain now" in client.get(reverse("learning-curves")).content.decode()
    with django_capture_on_commit_callbacks():
        response = client.post(reverse("trainingrun-create"))
        client.post(reverse("trainingrun-create"))
    assert response.status_code == 302
    run = TrainingRun.objects.get()  # the second click coalesced
    assert run.trigger == "manual" and run.requested_by == curator
    assert client.get(reverse("trainingrun-create")).status_code == 405


def test_progress_json(client, vetter):
    run = TrainingRun.objects.create(state="running", progress=0.45, message="training")
    assert client.get(reverse("job-training-progress", args=[run.pk])).status_code == 302  # login first
    client.force_login(vetter)
    body = client.get(reverse("job-training-progress", args=[run.pk])).json()
    assert body["state"] == "running" and body["progress"] == 0.45 and body["done"] is False
    assert body["message"] == "training"
    assert client.get(reverse("job-training-progress", args=[run.pk + 1000])).status_code == 404
