"""examples/vetting_client.py against a live server: pull uncertain candidates, label, retrain, wait."""
from __future__ import annotations

import importlib.util
import threading

import pytest
from rest_framework.authtoken.models import Token

from tests.conftest import REPO_ROOT


def load_example():
    spec = importlib.util.spec_from_file_location("vetting_client", REPO_ROOT / "examples" / "vetting_client.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_example_client_labels_retrains_and_waits(live_server, curator, make_candidate, make_version, predict):
    from vetting.learning.models import TrainingRun
    from vetting.reviews.models import Label

    example = load_example()
    version = make_version("v1", active=True)
    sure = make_candidate(depth_ppm=900.0)
    deep = make_candidate(depth_ppm=90000.0)
    predict(sure, version, 0.9, uncertainty=0.3)
    predict(deep, version, 0.4, uncertainty=0.8)
    client = example.VettingClient(live_server.url, Token.objects.create(user=curator).key)

    assert client.me()["roles"] == ["vetter", "curator"]
    candidates = client.uncertain_candidates(5)
    assert [c["id"] for c in candidates] == [deep.pk, sure.pk]  # most uncertain first
    for cand in candidates:
        label_class, confidence, note = example.choose_label(cand)
        client.label(cand["id"], label_class, confidence=confidence, note=note)
    assert dict(Label.objects.values_list("candidate_id", "label_class")) == {deep.pk: "EB", sure.pk: "PC"}
    assert client.uncertain_candidates(5) == []  # labeled by me: gone from my list

    run = client.retrain()
    assert run["state"] == "queued"

    def worker_finishes():  # stands in for the Celery worker: the client must keep polling until then
        from django.db import connection

        try:
            TrainingRun.objects.filter(pk=run["id"]).update(state="finished", progress=1.0, message="done")
        finally:
            connection.close()  # this thread's own connection, or the test database cannot be dropped

    timer = threading.Timer(0.3, worker_finishes)
    timer.start()
    try:
        done = client.wait_for_run(run["id"], poll_s=0.2, timeout_s=30)
    finally:
        timer.join()
    assert done["state"] == "finished" and done["progress"] == 1.0

    with pytest.raises(example.ApiError) as info:
        client.label(999999, "PC", confidence=1.0, note="")
    assert info.value.status == 404 and "candidate" in info.value.fields  # no such candidate
