"""One filter vocabulary: a query string means the same candidates on the queue page and on
``/api/candidates/`` (vetting.learning.filters.CandidateFilter serves both)."""
from __future__ import annotations

import re

import pytest
from django.urls import reverse

from tests.api.helpers import token_client
from tests.web.pagedata import make_prediction, make_queue_entry, make_version
from vetting.reviews import services

pytestmark = pytest.mark.django_db

QUERIES = [
    "", "mission=tess", "mission=kepler&catalog_disposition=candidate", "catalog_disposition=FALSE+POSITIVE",
    "model_class=PC", "p_planet_min=0.4&p_planet_max=0.6", "p_planet_min=0.85", "labeled=true", "labeled=false",
    "labeled_by_me=true", "disputed=true", "disputed=false", "source_catalog=koi", "catalog_id=K00002.01",
]


@pytest.fixture
def population(make_candidate, vetter, vetter2):
    version = make_version()
    kepler_pc = make_candidate("K00001.01", catalog_disposition="CANDIDATE")
    kepler_eb = make_candidate("K00002.01", catalog_disposition="FALSE POSITIVE")
    tess = make_candidate("TOI-101.01", mission="tess", target_id="TIC 1", source_catalog="toi")
    mine = make_candidate("K00004.01", catalog_disposition="CANDIDATE")
    make_candidate("K00005.01")  # no prediction, not queued
    make_prediction(kepler_pc, version, top="PC", p_top=0.9)
    make_prediction(kepler_eb, version, top="EB", p_top=0.8)
    make_prediction(tess, version, top="PC", p_top=0.5)
    make_queue_entry(tess, 2.0, "committee", version)
    services.label_create(candidate=kepler_eb, vetter=vetter2, label_class="EB")
    services.label_create(candidate=mine, vetter=vetter, label_class="PC")
    services.dispute_open(candidate=tess, opened_by=vetter2, reason="odd/even", model_version="v1")
    return version


def _site(client, query: str) -> set[str]:
    html = client.get(reverse("candidate-queue") + "?" + query).content.decode()
    assert 'class="error"' not in html, query
    return set(re.findall(r'<th scope="row"><a href="/candidates/\d+/">([^<]+)</a>', html))


def _api(api, query: str) -> set[str]:
    response = api.get("/api/candidates/?" + query)
    assert response.status_code == 200, (query, response.content)
    return {row["catalog_id"] for row in response.json()["results"]}


@pytest.mark.parametrize("query", QUERIES)
def test_site_and_api_agree(client, population, vetter, query):
    client.force_login(vetter)
    api = token_client(vetter)
    # the queue hides your own labeled candidates unless asked: say so explicitly to the API
    api_query = query if "labeled_by_me" in query else "&".join(filter(None, [query, "labeled_by_me=false"]))
    assert _site(client, query) == _api(api, api_query)


@pytest.mark.parametrize("query", ["p_planet_min=2", "labeled=maybe", "model_class=XX", "ordering=catalog_score",
                                   "p_planet_min=0.9&p_planet_max=0.1", "mission=pluto", "target=1.5"])
def test_a_bad_value_is_an_error_in_both(client, population, vetter, query):
    client.force_login(vetter)
    html = client.get(reverse("candidate-queue") + "?" + query).content.decode()
    assert 'class="error"' in html  # reported on the page, and the filter ignored
    assert token_client(vetter).get("/api/candidates/?" + query).status_code == 400


def test_orderings_share_their_names(client, population, vetter):
    client.force_login(vetter)
    api = token_client(vetter)
    for ordering in ("-p_planet", "p_planet", "-uncertainty"):
        html = client.get(reverse("candidate-queue") + f"?ordering={ordering}").content.decode()
        site = re.findall(r'<th scope="row"><a href="/candidates/\d+/">([^<]+)</a>', html)
        rows = api.get(f"/api/candidates/?ordering={ordering}&labeled_by_me=false").json()["results"]
        # the API lists only candidates with a value for a nullable ordering; the site puts them last
        assert site[:len(rows)] == [r["catalog_id"] for r in rows]
