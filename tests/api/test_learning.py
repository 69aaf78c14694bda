"""Classifier versions (ETags), predictions by version, training runs (202 + polling)."""
from __future__ import annotations

from tests.api.helpers import error_of


def test_classifier_versions_with_metrics_and_etag(vetter_client, make_version):
    make_version("v1", metrics={"planet_ap": 0.61})
    active = make_version("v2", active=True, metrics={"planet_ap": 0.74})
    response = vetter_client.get("/api/classifier-versions/")
    assert [(v["name"], v["is_active"], v["metrics"]["planet_ap"]) for v in response.json()] == [
        ("v2", True, 0.74), ("v1", False, 0.61)]
    etag = response["ETag"]
    cached = vetter_client.get("/api/classifier-versions/", HTTP_IF_NONE_MATCH=etag)
    assert cached.status_code == 304 and not cached.content
    detail = vetter_client.get(f"/api/classifier-versions/{active.pk}/", HTTP_IF_NONE_MATCH=etag)
    assert detail.status_code == 304
    active.is_active = False
    active.save()  # a change of state invalidates the tag
    assert vetter_client.get("/api/classifier-versions/", HTTP_IF_NONE_MATCH=etag).status_code == 200


def test_active_version(vetter_client, make_version):
    missing = vetter_client.get("/api/classifier-versions/active/")
    assert missing.status_code == 404 and "No classifier version is active" in error_of(missing)["message"]
    make_version("v7", active=True)
    assert vetter_client.get("/api/classifier-versions/active/").json()["name"] == "v7"


def test_predictions_current_and_by_version(vetter_client, make_candidate, make_version, predict):
    old, active = make_version("v1"), make_version("v2", active=True)
    a, b = make_candidate(), make_candidate()
    predict(a, old, 0.2)
    predict(a, active, 0.8, uncertainty=0.1)
    predict(b, active, 0.4, uncertainty=0.7)
    current = vetter_client.get("/api/predictions/").json()["results"]
    assert {(p["candidate"], p["classifier_version_name"]) for p in current} == {(a.pk, "v2"), (b.pk, "v2")}
    assert current[0]["probabilities"]["PC"] in (0.8, 0.4)
    by_name = vetter_client.get("/api/predictions/?classifier_version=v1").json()["results"]
    assert [(p["candidate"], p["p_planet"]) for p in by_name] == [(a.pk, 0.2)]
    by_id = vetter_client.get(f"/api/predictions/?classifier_version={old.pk}").json()["results"]
    assert by_id == by_name
    ordered = vetter_client.get("/api/predictions/?ordering=-uncertainty").json()["results"]
    assert [p["candidate"] for p in ordered] == [b.pk, a.pk]
    filtered = vetter_client.get("/api/predictions/?p_planet_min=0.5").json()["results"]
    assert [p["candidate"] for p in filtered] == [a.pk]


def test_predictions_unknown_version_and_none_active(vetter_client, db):
    assert vetter_client.get("/api/predictions/").json()["results"] == []  # no model yet: empty, not an error
    response = vetter_client.get("/api/predictions/?classifier_version=v99")
    assert response.status_code == 404 and "v99" in error_of(response)["message"]


def test_curator_requests_a_retrain_and_polls_it(curator_client, curator):
    from vetting.learning.models import TrainingRun

    response = curator_client.post("/api/training-runs/")
    assert response.status_code == 202, response.content
    run = response.json()
    assert run["state"] == "queued" and run["trigger"] == "api" and run["requested_by"] == "carla"
    assert response["Location"].endswith(f"/api/training-runs/{run['id']}/")
    assert TrainingRun.objects.get(pk=run["id"]).requested_by == curator
    again = curator_client.post("/api/training-runs/")
    assert again.status_code == 202 and again.json()["id"] == run["id"]  # requests coalesce
    TrainingRun.objects.filter(pk=run["id"]).update(state="running", progress=0.4, message="fitting")
    polled = curator_client.get(f"/api/training-runs/{run['id']}/").json()
    assert (polled["state"], polled["progress"], polled["message"]) == ("running", 0.4, "fitting")
    assert [r["id"] for r in curator_client.get("/api/training-runs/?state=running").json()["results"]] == [run["id"]]


def test_retrain_needs_curator(vetter_client, admin_client_role):
    response = vetter_client.post("/api/training-runs/")
    assert response.status_code == 403 and "curator" in error_of(response)["message"]
    assert admin_client_role.post("/api/training-runs/").status_code == 202
    assert vetter_client.get("/api/training-runs/").status_code == 200


def test_finished_run_names_its_version(vetter_client, make_version):
    from vetting.learning.models import TrainingRun

    run = TrainingRun.objects.create(state="finished", trigger="api", progress=1.0)
    version = make_version("v3")
    version.training_run = run
    version.save()
    body = vetter_client.get(f"/api/training-runs/{run.pk}/").json()
    assert body["classifier_version"] == {"id": version.pk, "name": "v3", "status": "rejected", "is_active": False,
                                           "origin": "team"}
