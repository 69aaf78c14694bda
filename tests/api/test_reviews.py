"""Labels (create/update your own, scoping by role) and disputes (open, comment, resolve)."""
from __future__ import annotations

from tests.api.helpers import error_of


def test_vetter_labels_a_candidate(vetter_client, vetter, make_candidate):
    from vetting.reviews.models import Consensus, Label

    cand = make_candidate()
    response = vetter_client.post("/api/labels/", {"candidate": cand.pk, "label_class": "EB", "confidence": 0.8,
                                                   "note": "secondary eclipse", "seconds_spent": 12.5}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["vetter"] == "vera" and body["label_class"] == "EB" and body["is_current"] is True
    label = Label.objects.get(pk=body["id"])
    assert (label.vetter, label.confidence, label.seconds_spent) == (vetter, 0.8, 12.5)
    assert Consensus.objects.get(candidate=cand).label_class == "EB"  # the service ran


def test_relabel_keeps_history(vetter_client, make_candidate):
    from vetting.reviews.models import Label

    cand = make_candidate()
    first = vetter_client.post("/api/labels/", {"candidate": cand.pk, "label_class": "EB"}, format="json").json()
    response = vetter_client.patch(f"/api/labels/{first['id']}/", {"label_class": "PC"}, format="json")
    assert response.status_code == 200, response.content
    new = response.json()
    assert new["id"] != first["id"] and new["supersedes"] == first["id"] and new["label_class"] == "PC"
    assert Label.objects.get(pk=first["id"]).is_current is False
    # PUT replaces every field; the superseded label cannot be changed any more
    put = vetter_client.put(f"/api/labels/{new['id']}/", {"label_class": "V", "confidence": 0.5}, format="json")
    assert put.status_code == 200 and put.json()["confidence"] == 0.5
    stale = vetter_client.patch(f"/api/labels/{first['id']}/", {"label_class": "J"}, format="json")
    assert stale.status_code == 409 and "superseded" in error_of(stale)["message"]


def test_only_your_own_labels_can_change(vetter_client, vetter2_client, curator_client, make_candidate):
    cand = make_candidate()
    mine = vetter_client.post("/api/labels/", {"candidate": cand.pk, "label_class": "EB"}, format="json").json()
    for client in (vetter2_client, curator_client):
        response = client.patch(f"/api/labels/{mine['id']}/", {"label_class": "PC"}, format="json")
        assert response.status_code == 403
        assert error_of(response)["message"] == "You can only change your own labels."
    assert vetter2_client.get(f"/api/labels/{mine['id']}/").status_code == 403
    assert curator_client.get(f"/api/labels/{mine['id']}/").status_code == 200


def test_label_list_scoped_by_role(vetter_client, vetter2_client, curator_client, make_candidate):
    cand = make_candidate()
    vetter_client.post("/api/labels/", {"candidate": cand.pk, "label_class": "EB"}, format="json")
    vetter2_client.post("/api/labels/", {"candidate": cand.pk, "label_class": "PC"}, format="json")
    assert [r["vetter"] for r in vetter_client.get("/api/labels/").json()["results"]] == ["vera"]
    assert sorted(r["vetter"] for r in curator_client.get("/api/labels/").json()["results"]) == ["vera", "victor"]
    filtered = curator_client.get("/api/labels/?vetter=victor&label_class=PC&is_current=true").json()["results"]
    assert [r["vetter"] for r in filtered] == ["victor"]


def test_label_bad_input(vetter_client, norole_client, make_candidate):
    cand = make_candidate()
    response = vetter_client.post("/api/labels/", {"candidate": 999999, "label_class": "PC"}, format="json")
    assert response.status_code == 404  # well formed, but no such candidate
    assert "candidate" in error_of(response)["fields"]
    cases = [
        ({"candidate": 999999, "label_class": "XX"}, "candidate"),  # with another error: a 400 naming both
        ({"candidate": "abc", "label_class": "PC"}, "candidate"),
        ({"candidate": cand.pk, "label_class": "planet"}, "label_class"),
        ({"candidate": cand.pk, "label_class": "PC", "confidence": 1.5}, "confidence"),
        ({"candidate": cand.pk}, "label_class"),
    ]
    for payload, field in cases:
        response = vetter_client.post("/api/labels/", payload, format="json")
        assert response.status_code == 400, payload
        assert field in error_of(response)["fields"], payload
    response = norole_client.post("/api/labels/", {"candidate": cand.pk, "label_class": "PC"}, format="json")
    assert response.status_code == 403
    response = vetter_client.patch("/api/labels/999999/", {"label_class": "PC"}, format="json")
    assert response.status_code == 404


def test_dispute_open_comment_resolve(vetter_client, curator_client, make_candidate):
    from vetting.reviews.models import Consensus

    cand = make_candidate()
    label = vetter_client.post("/api/labels/", {"candidate": cand.pk, "label_class": "PC"}, format="json").json()
    response = vetter_client.post("/api/disputes/", {"candidate": cand.pk, "label": label["id"],
                                                     "reason": "secondary eclipse visible", "proposed_class": "EB"},
                                  format="json")
    assert response.status_code == 201, response.content
    dispute = response.json()
    assert dispute["subject"] == "label" and dispute["disputed_class"] == "PC" and dispute["status"] == "open"
    comment = curator_client.post(f"/api/disputes/{dispute['id']}/comments/", {"text": "agreed"}, format="json")
    assert comment.status_code == 201 and comment.json()["author"] == "carla"
    forbidden = vetter_client.post(f"/api/disputes/{dispute['id']}/resolve/", {"resolved_class": "EB"}, format="json")
    assert forbidden.status_code == 403
    resolved = curator_client.post(f"/api/disputes/{dispute['id']}/resolve/",
                                   {"resolved_class": "EB", "resolution": "clear secondary"}, format="json")
    assert resolved.status_code == 200, resolved.content
    body = resolved.json()
    assert body["status"] == "resolved" and body["resolved_by"] == "carla" and len(body["comments"]) == 1
    assert Consensus.objects.get(candidate=cand).label_class == "EB"  # the curated label decides
    again = curator_client.post(f"/api/disputes/{dispute['id']}/resolve/", {"resolved_class": "PC"}, format="json")
    assert again.status_code == 409 and "already resolved" in error_of(again)["message"]
    listed = vetter_client.get(f"/api/disputes/?status=resolved&candidate={cand.pk}").json()["results"]
    assert [d["id"] for d in listed] == [dispute["id"]]


def test_dispute_of_a_prediction(vetter_client, make_candidate):
    cand = make_candidate()
    response = vetter_client.post("/api/disputes/", {"candidate": cand.pk, "model_version": "v3",
                                                     "disputed_class": "PC", "reason": "this is a blend"},
                                  format="json")
    assert response.status_code == 201
    assert response.json()["subject"] == "prediction"


def test_dispute_bad_input(vetter_client, make_candidate):
    cand, other = make_candidate(), make_candidate()
    label = vetter_client.post("/api/labels/", {"candidate": other.pk, "label_class": "PC"}, format="json").json()
    blank = vetter_client.post("/api/disputes/", {"candidate": cand.pk, "reason": "   "}, format="json")
    assert blank.status_code == 400 and "reason" in error_of(blank)["fields"]
    foreign = vetter_client.post("/api/disputes/", {"candidate": cand.pk, "label": label["id"], "reason": "x"},
                                 format="json")
    # A label of another candidate is no label of this one: a 404 naming the field.
    assert foreign.status_code == 404 and "label" in error_of(foreign)["fields"]
    unknown = vetter_client.post("/api/disputes/999999/comments/", {"text": "hi"}, format="json")
    assert unknown.status_code == 404
    dispute = vetter_client.post("/api/disputes/", {"candidate": cand.pk, "reason": "x"}, format="json").json()
    empty = vetter_client.post(f"/api/disputes/{dispute['id']}/comments/", {"text": ""}, format="json")
    assert empty.status_code == 400 and "text" in error_of(empty)["fields"]
