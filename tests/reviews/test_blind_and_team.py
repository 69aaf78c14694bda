"""The blind rule (site and API), the team page's reliability, anchoring and known-answer figures,
the reliability API, and mislabel flags that never touch settled candidates."""
from __future__ import annotations

import numpy as np
import pytest
from django.test import override_settings
from django.urls import reverse

from tests.api.helpers import token_client
from tests.web.pagedata import make_prediction, make_version
from vetting.reviews import selectors, services
from vetting.reviews.models import Label

pytestmark = pytest.mark.django_db


@override_settings(VETTING_BLIND_MODE="blind")
def test_blind_mode_hides_the_model_until_you_label_on_the_site_and_in_the_api(client, make_candidate, vetter,
                                                                               curator):
    candidate = make_candidate()
    make_prediction(candidate, make_version("v3"), top="EB", p_top=0.8)
    url = reverse("candidate-detail", args=[candidate.pk])
    client.force_login(vetter)
    page = client.get(url).content.decode()
    assert "Hidden until you label" in page and "predicts <strong>EB" not in page
    api = token_client(vetter)
    body = api.get(f"/api/candidates/{candidate.pk}/").json()
    assert body["model_hidden"] is True and body["predicted_class"] is None and body["p_planet"] is None
    assert api.get(f"/api/candidates/{candidate.pk}/predictions/").json() == []
    listed = {c["id"]: c for c in api.get("/api/candidates/").json()["results"]}
    assert listed[candidate.pk]["predicted_class"] is None

    services.label_create(candidate=candidate, vetter=vetter, label_class="PC")
    assert Label.objects.get(vetter=vetter).model_shown is False
    assert "predicts <strong>EB" in client.get(url).content.decode()
    body = api.get(f"/api/candidates/{candidate.pk}/").json()
    assert body["model_hidden"] is False and body["predicted_class"] == "EB"
    assert len(api.get(f"/api/candidates/{candidate.pk}/predictions/").json()) == 1

    other = make_candidate()  # curators always see the model
    assert not selectors.model_hidden(user=curator, candidate_id=other.pk, has_labeled=False)


def test_experiment_mode_hides_a_stable_random_half(vetter, vetter2):
    with override_settings(VETTING_BLIND_MODE="experiment"):
        hidden = [selectors.model_hidden(user=vetter, candidate_id=i, has_labeled=False) for i in range(1, 401)]
        again = [selectors.model_hidden(user=vetter, candidate_id=i, has_labeled=False) for i in range(1, 401)]
        other = [selectors.model_hidden(user=vetter2, candidate_id=i, has_labeled=False) for i in range(1, 401)]
        assert hidden == again  # the same answer on every request
        assert 0.4 < np.mean(hidden) < 0.6 and hidden != other
        assert not selectors.model_hidden(user=vetter, candidate_id=1, has_labeled=True)
    with override_settings(VETTING_BLIND_MODE="off"):
        assert not any(selectors.model_hidden(user=vetter, candidate_id=i, has_labeled=False) for i in range(1, 50))


def test_team_page_reports_reliability_anchoring_and_known_answers(client, make_candidate, vetter, vetter2, curator):
    version = make_version("v1")
    check = make_candidate(snr=12.0)
    services.curator_label_set(candidate=check, curator=curator, label_class="PC")
    services.known_answer_set(candidate_ids=[check.pk], curator=curator)
    # three candidates on each side of vera's coin, so both arms of the experiment have labels
    shown_side, hidden_side = [], []
    while len(shown_side) < 3 or len(hidden_side) < 3:
        c = make_candidate()
        side = hidden_side if selectors.blind_coin(user_id=vetter.pk, candidate_id=c.pk) else shown_side
        if len(side) < 3:
            side.append(c)
    candidates = shown_side + hidden_side
    with override_settings(VETTING_BLIND_MODE="experiment"):
        for c in candidates:
            make_prediction(c, version, top="EB", p_top=0.7)
            for v in (vetter, vetter2):
                services.label_create(candidate=c, vetter=v, label_class="EB", seconds_spent=20)
        services.label_create(candidate=check, vetter=vetter, label_class="PC")
        services.label_create(candidate=check, vetter=vetter2, label_class="EB")
    services.reliability_refit()
    client.force_login(curator)
    page = client.get(reverse("team-stats")).content.decode()
    assert "Whom to trust" in page and "Confusion matrix" in page
    assert "blind experiment" in page and "Known-answer checks" in page
    report = client.get(reverse("team-stats")).context
    known = {r["name"]: r["score"] for r in report["known_rows"]}
    assert known["vera"].recall.value == 1.0 and known["victor"].recall.value == 0.0
    rows = {r["name"]: r for r in report["rows"]}
    shown, hidden = rows["vera"]["anchoring"].shown, rows["vera"]["anchoring"].hidden
    assert (shown.n, hidden.n) == (3, 3) and shown.value == hidden.value == 1.0
    assert rows["vera"]["vs_consensus"].n_items == 7  # the check (curator truth) and the 6 vetted by victor too
    assert {r["username"] for r in report["reliability_rows"]} == {"vera", "victor"}


def test_reliability_api_follows_the_team_page_visibility(make_candidate, vetter, vetter2, curator):
    c = make_candidate()
    services.label_create(candidate=c, vetter=vetter, label_class="EB")
    services.label_create(candidate=c, vetter=vetter2, label_class="EB")
    services.reliability_refit()
    mine = token_client(vetter).get("/api/team/reliability/").json()
    assert [v["username"] for v in mine["vetters"]] == ["vera"]
    assert set(mine["vetters"][0]["confusion"]) == set(mine["classes"])
    everyone = token_client(curator).get("/api/team/reliability/").json()
    assert [v["username"] for v in everyone["vetters"]] == ["vera", "victor"]
    assert everyone["rule"] == "dawid_skene"


def test_mislabel_flags_skip_settled_and_known_answer_candidates(make_candidate, vetter, curator):
    from vetting.learning.models import MislabelFlag, TrainingRun
    from vetting.learning.services.mislabels import flag_mislabels

    settled, open_ = make_candidate(), make_candidate()
    for c in (settled, open_):
        services.label_create(candidate=c, vetter=vetter, label_class="PC")
    services.curator_label_set(candidate=settled, curator=curator, label_class="PC")
    run = TrainingRun.objects.create()
    proba = np.array([[0.05, 0.95], [0.05, 0.95]])  # the model disbelieves both
    n = flag_mislabels(run.pk, np.array([settled.pk, open_.pk]), np.array(["PC", "PC"], dtype=object), proba,
                       ["PC", "EB"])
    assert n == 1
    flag = MislabelFlag.objects.get()
    assert (flag.candidate_id, flag.suggested_class, flag.score) == (open_.pk, "EB", pytest.approx(0.05))
    reason = selectors.mislabel_reason(given_class="PC", suggested_class="EB", p_given=flag.score)
    assert "5%" in reason and "EB" in reason
