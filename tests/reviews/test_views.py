"""Label, dispute and team pages: permissions, hidden-until-labeled, dispute flow, team stats."""
from __future__ import annotations

import re

import pytest
from django.urls import reverse

from tests.web.pagedata import make_prediction, make_queue_entry, make_version
from vetting.reviews import services
from vetting.reviews.models import Consensus, Dispute, Label

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("name,args", [("candidate-queue", []), ("candidate-detail", [1]), ("team-stats", []),
                                       ("dispute-list", []), ("dispute-detail", [1])])
def test_anonymous_is_sent_to_login(client, name, args):
    response = client.get(reverse(name, args=args))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_label_submit_saves_time_spent_and_goes_to_next_candidate(client, vetter, make_candidate):
    first, second = make_candidate("K00001.01"), make_candidate("K00002.01")
    make_queue_entry(first, 2.0)
    make_queue_entry(second, 1.0)
    client.force_login(vetter)
    response = client.post(reverse("label-create", args=[first.pk]),
                           {"label_class": "EB", "confidence": "0.75", "note": "V-shaped", "seconds_spent": "12.5"})
    assert response.status_code == 302
    assert response["Location"] == reverse("candidate-detail", args=[second.pk]) + f"#saved=EB:{first.pk}:K00001.01"
    label = Label.objects.get(candidate=first, vetter=vetter)
    assert (label.label_class, label.confidence, label.note, label.seconds_spent) == ("EB", 0.75, "V-shaped", 12.5)


def test_changing_a_label_keeps_history(client, vetter, make_candidate):
    candidate = make_candidate()
    client.force_login(vetter)
    for cls in ("PC", "EB"):
        client.post(reverse("label-create", args=[candidate.pk]), {"label_class": cls, "confidence": "1.0"})
    labels = list(Label.objects.filter(candidate=candidate, vetter=vetter).order_by("created_at", "id"))
    assert [(label.label_class, label.is_current) for label in labels] == [("PC", False), ("EB", True)]
    assert labels[1].supersedes_id == labels[0].pk


def test_bad_label_is_refused_with_a_message_and_nothing_saved(client, vetter, make_candidate):
    candidate = make_candidate()
    client.force_login(vetter)
    response = client.post(reverse("label-create", args=[candidate.pk]), {"label_class": "XX", "confidence": "1.0"},
                           follow=True)
    assert b"Label not saved" in response.content
    assert not Label.objects.filter(candidate=candidate).exists()


def test_user_without_role_cannot_label(client, no_role_user, make_candidate):
    candidate = make_candidate()
    client.force_login(no_role_user)
    response = client.post(reverse("label-create", args=[candidate.pk]), {"label_class": "PC", "confidence": "1.0"})
    assert response.status_code == 403
    assert not Label.objects.exists()


def test_others_labels_hidden_until_you_label(client, vetter, vetter2, curator, make_candidate):
    candidate = make_candidate()
    services.label_create(candidate=candidate, vetter=vetter2, label_class="BEB", note="centroid shift")
    url = reverse("candidate-detail", args=[candidate.pk])

    client.force_login(vetter)
    page = client.get(url).content.decode()
    assert "hidden until you label" in page
    assert "centroid shift" not in page and "victor" not in page

    services.label_create(candidate=candidate, vetter=vetter, label_class="BEB")
    page = client.get(url).content.decode()
    assert "centroid shift" in page and "victor" in page and "Consensus:" in page

    client.force_login(curator)  # curators always see the labels
    assert "centroid shift" in client.get(url).content.decode()


def test_dispute_flow_vetter_opens_curator_resolves(client, vetter, curator, make_candidate):
    candidate = make_candidate()
    version = make_version("v3")
    make_prediction(candidate, version, top="PC", p_top=0.7)
    client.force_login(vetter)
    response = client.post(reverse("dispute-create", args=[candidate.pk]),
                           {"subject": "prediction", "proposed_class": "EB",
                            "reason": "secondary eclipse at phase 0.5"})
    dispute = Dispute.objects.get()
    assert response["Location"] == reverse("dispute-detail", args=[dispute.pk])
    assert (dispute.subject, dispute.model_version, dispute.disputed_class, dispute.proposed_class) == \
        ("prediction", "v3", "PC", "EB")
    client.post(reverse("dispute-comment", args=[dispute.pk]), {"text": "see the odd/even plot"})
    assert dispute.comments.get().text == "see the odd/even plot"

    forbidden = client.post(reverse("dispute-resolve", args=[dispute.pk]), {"resolved_class": "EB"})
    assert forbidden.status_code == 403
    assert Dispute.objects.get().status == "open"

    client.force_login(curator)
    queue = client.get(reverse("dispute-list")).content.decode()
    assert f"#{dispute.pk}" in queue and "secondary eclipse" in queue
    client.post(reverse("dispute-resolve", args=[dispute.pk]), {"resolved_class": "EB", "resolution": "clear EB"})
    dispute.refresh_from_db()
    assert (dispute.status, dispute.resolved_class, dispute.resolved_by) == ("resolved", "EB", curator)
    consensus = Consensus.objects.get(candidate=candidate)
    assert (consensus.label_class, consensus.method) == ("EB", "curator")


def test_dispute_needs_a_reason(client, vetter, make_candidate):
    candidate = make_candidate()
    make_prediction(candidate, make_version())
    client.force_login(vetter)
    response = client.post(reverse("dispute-create", args=[candidate.pk]), {"subject": "prediction", "reason": "  "},
                           follow=True)
    assert b"Dispute not opened" in response.content
    assert not Dispute.objects.exists()


def test_cannot_dispute_a_label_before_labeling(client, vetter, vetter2, make_candidate):
    candidate = make_candidate()
    theirs = services.label_create(candidate=candidate, vetter=vetter2, label_class="PC")
    client.force_login(vetter)
    client.post(reverse("dispute-create", args=[candidate.pk]), {"subject": f"label:{theirs.pk}", "reason": "no"})
    assert not Dispute.objects.exists()
    services.label_create(candidate=candidate, vetter=vetter, label_class="EB")
    client.post(reverse("dispute-create", args=[candidate.pk]),
                {"subject": f"label:{theirs.pk}", "reason": "EB: secondary"})
    dispute = Dispute.objects.get()
    assert (dispute.subject, dispute.label, dispute.disputed_class) == ("label", theirs, "PC")


def test_vetter_sees_only_own_disputes(client, vetter, vetter2, make_candidate):
    candidate = make_candidate()
    mine = services.dispute_open(candidate=candidate, opened_by=vetter, reason="mine", model_version="v1")
    theirs = services.dispute_open(candidate=candidate, opened_by=vetter2, reason="theirs", model_version="v1")
    client.force_login(vetter)
    page = client.get(reverse("dispute-list")).content.decode()
    assert f'href="{reverse("dispute-detail", args=[mine.pk])}"' in page
    assert f'href="{reverse("dispute-detail", args=[theirs.pk])}"' not in page


def _team_rows(html: str) -> list[str]:
    return re.findall(r'<th scope="row">([a-z]+)</th>', html)


def test_team_page_curator_sees_everyone_vetter_sees_self(client, vetter, vetter2, curator, make_candidate):
    candidates = [make_candidate() for _ in range(4)]
    for c, (a, b) in zip(candidates, [("PC", "PC"), ("EB", "EB"), ("PC", "EB"), ("V", "V")]):
        services.label_create(candidate=c, vetter=vetter, label_class=a, seconds_spent=20)
        services.label_create(candidate=c, vetter=vetter2, label_class=b, seconds_spent=40)
    client.force_login(curator)
    page = client.get(reverse("team-stats")).content.decode()
    assert _team_rows(page)[:2] == ["vera", "victor"]
    assert "vera – victor" in page
    assert "How consensus works" in page and "estimated confusion matrix" in page and "adjudication queue" in page
    # 4 candidates, 3 agree: Fleiss kappa = (0.75 - 0.34375) / (1 - 0.34375) = 0.619 (see test_stats).
    assert "<strong>0.62</strong>" in page

    client.force_login(vetter)
    page = client.get(reverse("team-stats")).content.decode()
    assert "vera" in _team_rows(page) and "victor" not in _team_rows(page)


def test_job_progress_json(client, vetter):
    from vetting.candidates.models import ImportJob
    from vetting.learning.models import TrainingRun

    job = ImportJob.objects.create(kind="catalog", state="running", progress=0.4, errors=["row 3: bad period"])
    run = TrainingRun.objects.create(state="failed", progress=0.5, error="ValueError: too few labels\ntrace")
    client.force_login(vetter)
    body = client.get(reverse("job-import-progress", args=[job.pk])).json()
    assert (body["state"], body["progress"], body["done"], body["n_errors"]) == ("running", 0.4, False, 1)
    body = client.get(reverse("job-training-progress", args=[run.pk])).json()
    assert (body["state"], body["done"], body["message"]) == ("failed", True, "failed: ValueError: too few labels")
    assert client.get(reverse("job-import-progress", args=[999999])).status_code == 404
