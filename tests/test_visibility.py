"""One visibility rule, on the site and in the API: others' labels, the consensus and disputes
of a candidate stay hidden from a vetter until they have labeled it (no anchoring); curators
see everything. Each case is checked through both interfaces."""
from __future__ import annotations

import pytest
from django.urls import reverse

from tests.api.helpers import token_client
from vetting.reviews import services

pytestmark = pytest.mark.django_db


@pytest.fixture
def scene(make_candidate, vetter, vetter2):
    """One candidate labeled EB by vetter2, who also disputes the model on it."""
    candidate = make_candidate("K00042.01")
    services.label_create(candidate=candidate, vetter=vetter2, label_class="EB", note="clear secondary")
    dispute = services.dispute_open(candidate=candidate, opened_by=vetter2, reason="secondary at phase 0.6",
                                    model_version="v1", disputed_class="PC", proposed_class="EB")
    return candidate, dispute


def _page(client, user, candidate) -> str:
    client.force_login(user)
    return client.get(reverse("candidate-detail", args=[candidate.pk])).content.decode()


def test_before_labeling_a_vetter_sees_nothing_of_the_others(client, scene, vetter):
    candidate, dispute = scene
    html = _page(client, vetter, candidate)
    assert "clear secondary" not in html and "secondary at phase 0.6" not in html
    assert "Consensus:" not in html
    assert client.get(reverse("dispute-detail", args=[dispute.pk])).status_code == 403
    assert "secondary at phase 0.6" not in client.get(reverse("dispute-list") + "?status=all").content.decode()

    api = token_client(vetter)
    body = api.get(f"/api/candidates/{candidate.pk}/").json()
    assert body["consensus"] is None
    assert api.get("/api/disputes/").json()["results"] == []
    assert api.get(f"/api/disputes/{dispute.pk}/").status_code == 404
    assert api.post(f"/api/disputes/{dispute.pk}/comments/", {"text": "me too"}, format="json").status_code == 404
    assert api.get(f"/api/labels/?candidate={candidate.pk}").json()["results"] == []


def test_after_labeling_the_same_vetter_sees_all_of_it(client, scene, vetter):
    candidate, dispute = scene
    services.label_create(candidate=candidate, vetter=vetter, label_class="EB")  # agrees: a tie has no consensus
    html = _page(client, vetter, candidate)
    assert "Consensus:" in html and "secondary at phase 0.6" in html
    assert client.get(reverse("dispute-detail", args=[dispute.pk])).status_code == 200

    api = token_client(vetter)
    assert api.get(f"/api/candidates/{candidate.pk}/").json()["consensus"]["n_labels"] == 2
    assert [d["id"] for d in api.get("/api/disputes/").json()["results"]] == [dispute.pk]
    assert api.get(f"/api/disputes/{dispute.pk}/").status_code == 200


def test_curators_see_everything_without_labeling(client, scene, curator):
    candidate, dispute = scene
    html = _page(client, curator, candidate)
    assert "Consensus:" in html and "secondary at phase 0.6" in html
    api = token_client(curator)
    assert api.get(f"/api/candidates/{candidate.pk}/").json()["consensus"]["label_class"] == "EB"
    assert [d["id"] for d in api.get("/api/disputes/").json()["results"]] == [dispute.pk]


def test_the_opener_always_sees_their_own_dispute(scene, vetter2):
    _, dispute = scene
    api = token_client(vetter2)
    assert [d["id"] for d in api.get("/api/disputes/").json()["results"]] == [dispute.pk]


def test_disputing_a_label_you_may_not_see_is_refused_everywhere(client, scene, vetter, vetter2):
    from vetting.reviews.models import Label

    candidate, _ = scene
    theirs = Label.objects.get(candidate=candidate, vetter=vetter2, is_current=True)
    api = token_client(vetter)
    response = api.post("/api/disputes/", {"candidate": candidate.pk, "label": theirs.pk, "reason": "guess"},
                        format="json")
    # A label you may not see is "no such label" to you (404 naming it), as in every list.
    assert response.status_code == 404 and "label" in response.json()["error"]["fields"]
    client.force_login(vetter)
    client.post(reverse("dispute-create", args=[candidate.pk]), {"subject": f"label:{theirs.pk}", "reason": "guess"})
    assert not candidate.disputes.filter(label=theirs).exists()


def test_the_queue_hides_the_consensus_of_unlabeled_candidates(client, scene, vetter, curator):
    client.force_login(vetter)
    assert "team: EB" not in client.get(reverse("candidate-queue")).content.decode()
    client.force_login(curator)
    assert "team: EB" in client.get(reverse("candidate-queue")).content.decode()
