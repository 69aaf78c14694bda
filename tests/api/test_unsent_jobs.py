"""A 202 for work the broker did not accept says so (issue 12, defect 4): ``"sent": false`` and a
message in the API body, the same in the site's progress JSON; ``"sent": true`` once published.

Transactional: the task is published when the service's transaction commits, before the
response is built, as under a real server.
"""
from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from vetting.core.jobs import NOT_SENT_MESSAGE

KOI_CSV = b"# koi table\nkepid,kepoi_name,koi_disposition,koi_period\n11446443,K00001.01,CONFIRMED,2.47\n"

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def broker(monkeypatch):
    """``broker["up"] = False`` makes every publish fail as a refused connection; ``broker["sent"]``."""
    state = {"up": True, "sent": []}

    def publish(name, args, **options):
        if not state["up"]:
            raise ConnectionRefusedError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
        state["sent"].append((name, list(args)))
        return type("Result", (), {"id": f"task-{len(state['sent'])}"})()

    monkeypatch.setattr("vetting.core.jobs.publish", publish)
    return state


def _upload(curator_client):
    return curator_client.post("/api/imports/", {"kind": "catalog", "file": SimpleUploadedFile("koi.csv", KOI_CSV),
                                                 "options": json.dumps({"table": "koi"})}, format="multipart")


@pytest.mark.parametrize("up", [False, True])
def test_import_202_says_whether_the_task_was_sent(curator_client, broker, up):
    broker["up"] = up
    response = _upload(curator_client)
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["state"] == "queued" and body["sent"] is up
    if up:
        assert body["task_id"] == "task-1" and body["message"] == ""
    else:
        assert body["task_id"] == "" and body["message"] == NOT_SENT_MESSAGE == "broker unreachable; will be re-sent"
    assert curator_client.get(f"/api/imports/{body['id']}/").json()["sent"] is up  # polling says the same


@pytest.mark.parametrize("up", [False, True])
def test_training_run_202_says_whether_the_task_was_sent(curator_client, broker, up):
    broker["up"] = up
    response = curator_client.post("/api/training-runs/")
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["state"] == "queued" and body["sent"] is up
    assert (body["message"] == NOT_SENT_MESSAGE) is not up


def test_progress_box_json_says_not_sent_until_beat_resends(client, curator, curator_client, broker):
    from vetting.candidates import services

    broker["up"] = False
    job_id = _upload(curator_client).json()["id"]
    client.force_login(curator)
    polled = client.get(f"/jobs/import/{job_id}/progress.json").json()
    assert polled["sent"] is False and polled["message"] == NOT_SENT_MESSAGE and polled["done"] is False

    broker["up"] = True
    assert services.import_jobs_recover(requeue_after_s=0)["resent"] == 1
    polled = client.get(f"/jobs/import/{job_id}/progress.json").json()
    assert polled["sent"] is True and polled["message"] == "Catalog table: queued"
