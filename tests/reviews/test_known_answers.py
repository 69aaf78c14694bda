"""Injected known-answer candidates: made from stored light curves, handed out like any other,
scored for vetter reliability, and never a real target (no consensus, no training, no export)."""
from __future__ import annotations

import csv
import io

import numpy as np
import pytest
from django.test import override_settings

from tests.api.helpers import token_client
from vetting.candidates.importers.lightcurves import LightCurveArrays, store_lightcurve
from vetting.candidates.models import Candidate, LightCurve
from vetting.reviews import known_answers, selectors, services
from vetting.reviews.models import CandidateReview, Consensus, KnownAnswer

pytestmark = pytest.mark.django_db


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)


def _donor(make_candidate, seed=0, n_days=40.0):
    """A real (Kepler) candidate on a quiet star with a stored 30-min light curve."""
    cand = make_candidate(simulated_truth="")
    rng = np.random.default_rng(seed)
    time = 200.0 + np.arange(0, n_days, 0.0204)
    lc = LightCurveArrays(time=time, flux=(1 + 4e-4 * rng.normal(size=time.size)).astype("<f4"),
                          flux_err=np.full(time.size, 4e-4, "<f4"), quality=np.zeros(time.size, np.int32),
                          mission="kepler", target_catalog_id=cand.target.catalog_id, time_system="BKJD",
                          quarter=3, source="fits")
    store_lightcurve(target=cand.target, lc=lc, candidate=cand)
    return cand


def test_injection_makes_closed_known_answers_that_look_like_real_candidates(media, make_candidate):
    donors = [_donor(make_candidate, seed=i) for i in range(3)]
    counts = known_answers.known_answers_inject(n=2, seed=4)
    assert counts["known_answers_injected"] == 2
    made = list(KnownAnswer.objects.select_related("candidate__target"))
    assert len(made) == 2
    for ka in made:
        cand = ka.candidate
        assert ka.source == "injected" and ka.true_class in ("PC", "EB") and ka.injected_snr > 0
        assert ka.parameters["period_days"] == pytest.approx(cand.period_days)
        # the donor's format and mission, its own target (donors' light curves stay untouched)
        assert cand.source_catalog == "koi" and cand.target.mission == "kepler"
        assert cand.target_id not in {d.target_id for d in donors}
        assert cand.catalog_id[0] == "K" and cand.catalog_id.endswith(".01")
        assert cand.global_view is not None and cand.plot_payload and cand.snr > 0
        assert LightCurve.objects.filter(target=cand.target).count() == 1
        review = CandidateReview.objects.get(candidate=cand)
        assert review.is_known_answer and not review.is_open
    assert LightCurve.objects.filter(target__in=[d.target for d in donors]).count() == 3
    # topping up adds nothing; asking again makes more, on other donors
    assert not known_answers.known_answers_inject(n=2, seed=4, top_up=True).get("known_answers_injected")
    assert selectors.known_answers() == {ka.candidate_id: (ka.true_class, ka.injected_snr) for ka in made}


def test_bad_requests_fail_clearly(db):
    with pytest.raises(ValueError, match="negative"):
        known_answers.known_answers_inject(n=-1)
    with pytest.raises(ValueError, match="SNR"):
        known_answers.known_answers_inject(n=1, snr_range=(10, 5))
    assert not known_answers.known_answers_inject(n=3)  # nothing stored: nothing made, no error


@override_settings(VETTING_KNOWN_ANSWER_SHARE=0.5, VETTING_LABELS_PER_CANDIDATE=1)
def test_injected_check_is_served_scored_and_never_a_real_label(media, make_candidate, vetter, vetter2, curator):
    from vetting.learning import queue_selectors
    from vetting.learning.featurize import build_matrix
    from vetting.learning.services.training import label_snapshot

    for i in range(3):
        _donor(make_candidate, seed=i)
    known_answers.known_answers_inject(n=1, seed=0)
    check = KnownAnswer.objects.get().candidate
    real = [make_candidate() for _ in range(3)]
    # the vetter's 2nd candidate is a known-answer check (share 0.5), handed out like any other
    first = queue_selectors.next_candidate_id(user=vetter, exclude_ids=[])
    assert first != check.pk
    services.label_create(candidate=first, vetter=vetter, label_class="PC")
    assert queue_selectors.next_candidate_id(user=vetter, exclude_ids=[]) == check.pk
    wrong = "EB" if check.known_answer.true_class == "PC" else "PC"
    services.label_create(candidate=check.pk, vetter=vetter, label_class=check.known_answer.true_class)
    services.label_create(candidate=check.pk, vetter=vetter2, label_class=wrong)
    # never the shared queue, never a consensus, never a training label
    assert not CandidateReview.objects.get(candidate=check).is_open
    assert not Consensus.objects.filter(candidate=check).exists()
    for cand in real:
        services.label_create(candidate=cand, vetter=vetter2, label_class="EB")
    # even a consensus written by hand stays out of the snapshot and the design matrix
    Consensus.objects.create(candidate=check, label_class="PC", agreement=1.0, n_labels=2, method="curator")
    ids, _ = label_snapshot()
    assert check.pk not in ids.tolist() and set(ids.tolist()) >= {c.pk for c in real if c.pk != first}
    assert check.pk not in build_matrix(ids).candidate_ids.tolist()
    Consensus.objects.filter(candidate=check).delete()
    # it counts for reliability: fixed truth of the fit
    assert services.reliability_refit(recompute=False)["n_fixed"] == 1
    # exports leave it out (the vetter's real labels are there)
    body = b"".join(token_client(curator).get("/api/exports/labels.csv").streaming_content).decode()
    rows = list(csv.DictReader(io.StringIO(body)))
    assert rows and str(check.pk) not in {r["candidate_id"] for r in rows}
    assert {str(c.pk) for c in real} <= {r["candidate_id"] for r in rows}
    # the API shows it like any other candidate: nothing names the check
    detail = token_client(vetter).get(f"/api/candidates/{check.pk}/").json()
    assert "known" not in str(detail).lower() and "inject" not in str(detail).lower()
    assert Candidate.objects.filter(pk=check.pk, simulated_truth="").exists()


def test_curators_set_labels_required_through_the_api(make_candidate, vetter, curator):
    a, b = make_candidate(), make_candidate(snr=99.0)
    url = "/api/team/labels-required/"
    assert token_client(vetter).post(url, {"labels_required": 3, "candidate_ids": [a.pk]},
                                     format="json").status_code == 403
    client = token_client(curator)
    for bad in ({"labels_required": 0, "candidate_ids": [a.pk]}, {"labels_required": 3},
                {"labels_required": 3, "candidate_ids": [a.pk], "filter": {}},
                {"labels_required": "many", "candidate_ids": [a.pk]},
                {"labels_required": 3, "filter": {"p_planet_min": "lots"}}):
        assert client.post(url, bad, format="json").status_code == 400, bad
    assert not CandidateReview.objects.exists()  # bad input changed nothing
    response = client.post(url, {"labels_required": 4, "candidate_ids": [a.pk]}, format="json")
    assert response.status_code == 200 and response.json() == {"updated": 1, "labels_required": 4}
    review = CandidateReview.objects.get(candidate=a)
    assert review.labels_required == 4 and review.labels_wanted == 4 and review.is_open
    response = client.post(url, {"labels_required": None, "filter": {"catalog_id": b.catalog_id}}, format="json")
    assert response.status_code == 200, response.json()
    assert CandidateReview.objects.get(candidate=b).labels_required is None


@override_settings(VETTING_KNOWN_ANSWER_SHARE=0.5)
def test_team_page_and_api_report_known_answer_recall_by_snr(media, client, make_candidate, vetter, curator):
    for i in range(2):
        _donor(make_candidate, seed=i)
    known_answers.known_answers_inject(n=1, seed=2, planet_share=1.0)
    check = KnownAnswer.objects.get()
    services.label_create(candidate=check.candidate_id, vetter=vetter, label_class="PC")
    body = token_client(curator).get("/api/team/reliability/").json()["known_answers"]
    assert body["n_known"] == 1 and body["n_injected"] == 1 and body["share"] == 0.5
    (row,) = body["vetters"]
    assert row["username"] == vetter.username and row["planet_recall"] == {**row["planet_recall"], "k": 1, "n": 1}
    filled = [b for b in body["snr_recall"] if b["planet_recall"]["n"]]
    assert len(filled) == 1 and filled[0]["planet_recall"]["value"] == 1.0
    client.force_login(curator)
    page = client.get("/reviews/team/")
    html = page.content.decode()
    assert page.status_code == 200 and 'data-figure="snr"' in html and "1/1" in html
    assert page.context["figures"]["snr"]["data"][0]["customdata"] == [[1, 1]]


def test_known_answers_anchor_the_reliability_fit_but_not_its_class_priors(make_candidate, vetter, curator):
    # A planet-heavy known-answer pool must not make planets look common to the consensus (the
    # class priors set every posterior, and so where adaptive overlap stops asking for labels).
    from vetting.reviews.selectors import current_reliability

    ordinary = [make_candidate() for _ in range(20)]
    pool = [make_candidate() for _ in range(10)]
    for cand in ordinary:
        services.label_create(candidate=cand, vetter=vetter, label_class="J")
    for cand in pool:
        services.curator_label_set(candidate=cand, curator=curator, label_class="PC")
    services.known_answer_set(candidate_ids=[c.pk for c in pool], curator=curator)
    for cand in pool:
        services.label_create(candidate=cand, vetter=vetter, label_class="PC")
    services.reliability_refit(recompute=False)
    reliability = current_reliability()
    pc = reliability.classes.index("PC")
    assert reliability.priors[pc] < 0.1  # 1 pseudo-count in 26; counted, the pool would give 11 in 36
    assert reliability.matrix(vetter.pk)[pc, pc] > 0.7  # the pool still shows the vetter finds planets
