"""Targets, candidates (filters, ordering, cursor pagination), light-curve data, queue."""
from __future__ import annotations

import pytest

from tests.api.helpers import error_of


@pytest.fixture
def scored(make_candidate, make_version, predict):
    """Four candidates; an active version scores three of them, an old version scores one."""
    old = make_version("v1")
    active = make_version("v2", active=True)
    a = make_candidate("K00001.01", catalog_disposition="CONFIRMED")
    b = make_candidate("K00002.01", catalog_disposition="FALSE POSITIVE")
    c = make_candidate("TOI-100.01", mission="tess", target_id="TIC 5", source_catalog="toi")
    d = make_candidate("K00004.01")
    predict(a, active, 0.9, uncertainty=0.2)
    predict(b, active, 0.1, uncertainty=0.4)
    predict(c, active, 0.55, uncertainty=0.9)
    predict(d, old, 0.99)
    return {"a": a, "b": b, "c": c, "d": d, "active": active, "old": old}


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


def test_candidate_list_carries_active_model_values(vetter_client, scored):
    rows = {r["catalog_id"]: r for r in vetter_client.get("/api/candidates/").json()["results"]}
    assert rows["K00001.01"]["p_planet"] == 0.9
    assert rows["K00001.01"]["predicted_class"] == "PC"
    assert rows["K00004.01"]["p_planet"] is None  # only the old version scored it
    assert rows["TOI-100.01"]["mission"] == "tess"
    assert "simulated_truth" not in rows["K00001.01"]


def test_candidate_filters(vetter_client, scored, vetter):
    from vetting.reviews.services import dispute_open, label_create

    s = scored
    get = lambda q: set(ids(vetter_client.get(f"/api/candidates/?{q}")))
    assert get("mission=tess") == {s["c"].pk}
    assert get("catalog_id=K00002.01") == {s["b"].pk}
    assert get("catalog_disposition=CONFIRMED") == {s["a"].pk}
    assert get("source_catalog=toi") == {s["c"].pk}
    assert get("model_class=PC") == {s["a"].pk, s["c"].pk}
    assert get("p_planet_min=0.5") == {s["a"].pk, s["c"].pk}
    assert get("p_planet_min=0.5&p_planet_max=0.6") == {s["c"].pk}
    label_create(candidate=s["a"], vetter=vetter, label_class="PC")
    dispute_open(candidate=s["b"], opened_by=vetter, reason="odd/even mismatch")
    assert get("labeled=true") == {s["a"].pk}
    assert get("labeled=false") == {s["b"].pk, s["c"].pk, s["d"].pk}
    assert get("labeled_by_me=true") == {s["a"].pk}
    assert get("disputed=true") == {s["b"].pk}


def test_candidate_orderings(vetter_client, scored, make_candidate):
    from vetting.learning.models import QueueEntry

    s = scored
    QueueEntry.objects.create(candidate=s["b"], priority=5.0, strategy="uncertainty")
    QueueEntry.objects.create(candidate=s["d"], priority=9.0, strategy="random")
    assert ids(vetter_client.get("/api/candidates/?ordering=-p_planet")) == [s["a"].pk, s["c"].pk, s["b"].pk]
    assert ids(vetter_client.get("/api/candidates/?ordering=p_planet")) == [s["b"].pk, s["c"].pk, s["a"].pk]
    assert ids(vetter_client.get("/api/candidates/?ordering=-priority")) == [s["d"].pk, s["b"].pk]
    assert ids(vetter_client.get("/api/candidates/?ordering=-uncertainty"))[0] == s["c"].pk
    assert ids(vetter_client.get("/api/candidates/")) == sorted((c.pk for c in (s["a"], s["b"], s["c"], s["d"])),
                                                                 reverse=True)


def test_cursor_pagination_walks_every_row_once(vetter_client, make_candidate, make_version, predict):
    version = make_version("v1", active=True)
    made = [make_candidate() for _ in range(7)]
    for i, cand in enumerate(made):
        predict(cand, version, i / 10)
    for ordering in ("-id", "-p_planet"):
        url, seen = f"/api/candidates/?page_size=3&ordering={ordering}", []
        while url:
            body = vetter_client.get(url).json()
            assert "count" not in body  # no COUNT(*) per page
            seen += [row["id"] for row in body["results"]]
            url = body["next"]
        assert sorted(seen) == sorted(c.pk for c in made) and len(seen) == 7


def test_candidate_list_query_count(vetter_client, scored, django_assert_max_num_queries):
    # token lookup, role groups, active version, the page: bounded, not one per candidate
    with django_assert_max_num_queries(6):
        assert vetter_client.get("/api/candidates/?labeled=false&disputed=false").status_code == 200


def test_bad_filter_values_are_400(vetter_client, db):
    for query in ("mission=pluto", "p_planet_min=high", "labeled=maybe", "ordering=catalog_score",
                  "model_class=XX", "page_size=abc", "p_planet_min=0.9&p_planet_max=0.1", "target=3.5"):
        response = vetter_client.get(f"/api/candidates/?{query}")
        assert response.status_code == 400, query
        assert error_of(response)["fields"], query


def test_candidate_detail(vetter_client, scored, vetter, add_lightcurve):
    from vetting.reviews.services import label_create

    a = scored["a"]
    a.features = {"depth_ppm": 1000.0}
    a.save()
    add_lightcurve(a, n=50)
    label_create(candidate=a, vetter=vetter, label_class="PC")
    body = vetter_client.get(f"/api/candidates/{a.pk}/").json()
    assert body["features"] == {"depth_ppm": 1000.0}
    assert body["consensus"]["label_class"] == "PC"
    assert body["lightcurves"][0]["n_points"] == 50
    assert body["has_views"] is False
    assert body["p_planet"] == 0.9


def test_candidate_predictions_by_version(vetter_client, scored, predict):
    a = scored["a"]
    predict(a, scored["old"], 0.3)
    rows = vetter_client.get(f"/api/candidates/{a.pk}/predictions/").json()
    assert {r["classifier_version_name"]: r["p_planet"] for r in rows} == {"v1": 0.3, "v2": 0.9}


def test_targets(vetter_client, scored):
    body = vetter_client.get("/api/targets/?mission=tess").json()
    assert [t["catalog_id"] for t in body["results"]] == ["TIC 5"]
    target_id = body["results"][0]["id"]
    assert vetter_client.get(f"/api/targets/{target_id}/").json()["mission"] == "tess"


# --- light-curve data ---------------------------------------------------------------------------

def test_lightcurve_raw_is_bounded_and_binned_on_the_server(vetter_client, make_candidate, add_lightcurve):
    cand = make_candidate(period_days=2.0, epoch=130.5)
    add_lightcurve(cand, n=3000, period=2.0, epoch=130.5)
    body = vetter_client.get(f"/api/candidates/{cand.pk}/lightcurve/?max_points=500&bins=50").json()
    raw = body["raw"]
    assert raw["binned"] is True and raw["n_points_stored"] == 3000
    assert 0 < raw["n_points"] <= 500 and len(raw["time"]) == len(raw["flux"]) == len(raw["flux_err"])
    assert raw["time"] == sorted(raw["time"])
    # the error of a mean of k points is err/sqrt(k): smaller than one point's 1e-4
    assert max(raw["flux_err"]) < 1e-4
    folded = body["folded"]
    assert len(folded["phase"]) == len(folded["flux"]) == 50
    assert sum(folded["counts"]) == 3000  # folding uses every stored point
    centre = folded["flux"][len(folded["flux"]) // 2]
    assert centre == pytest.approx(0.99, abs=2e-3)  # the transit is at phase 0
    assert folded["flux"][0] == pytest.approx(1.0, abs=2e-3)
    assert body["views"] == {"global_view": None, "local_view": None}


def test_lightcurve_small_series_returned_whole(vetter_client, make_candidate, add_lightcurve):
    cand = make_candidate()
    add_lightcurve(cand, n=100)
    raw = vetter_client.get(f"/api/candidates/{cand.pk}/lightcurve/").json()["raw"]
    assert raw["binned"] is False and raw["n_points"] == 100 and len(raw["time"]) == 100


def test_lightcurve_views_and_no_timeseries(vetter_client, make_candidate):
    import numpy as np

    cand = make_candidate(global_view=np.linspace(-1, 0, 201, dtype="<f4").tobytes(),
                          local_view=np.zeros(61, dtype="<f4").tobytes())
    body = vetter_client.get(f"/api/candidates/{cand.pk}/lightcurve/").json()
    assert body["raw"] is None and body["folded"] is None
    assert len(body["views"]["global_view"]) == 201 and body["views"]["global_view"][0] == -1.0
    assert len(body["views"]["local_view"]) == 61


def test_lightcurve_etag_gives_304(vetter_client, make_candidate, add_lightcurve):
    cand = make_candidate()
    add_lightcurve(cand, n=100)
    url = f"/api/candidates/{cand.pk}/lightcurve/?max_points=50"
    first = vetter_client.get(url)
    etag = first["ETag"]
    again = vetter_client.get(url, HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304 and again["ETag"] == etag
    other_params = vetter_client.get(f"/api/candidates/{cand.pk}/lightcurve/?max_points=60", HTTP_IF_NONE_MATCH=etag)
    assert other_params.status_code == 200
    add_lightcurve(cand, n=120, sector=2)  # new data: the old tag no longer matches
    assert vetter_client.get(url, HTTP_IF_NONE_MATCH=etag).status_code == 200


def test_lightcurve_bad_parameters(vetter_client, make_candidate, add_lightcurve):
    cand = make_candidate()
    other = make_candidate()
    foreign = add_lightcurve(other, n=20)
    for query in ("max_points=1", "max_points=10000000", "bins=abc"):
        response = vetter_client.get(f"/api/candidates/{cand.pk}/lightcurve/?{query}")
        assert response.status_code == 400, query
        assert error_of(response)["fields"]
    response = vetter_client.get(f"/api/candidates/{cand.pk}/lightcurve/?lightcurve={foreign.pk}")
    assert response.status_code == 404


# --- queue --------------------------------------------------------------------------------------

def test_queue_next_n_for_me_excludes_what_i_labeled(vetter_client, scored, vetter):
    from vetting.learning.models import QueueEntry
    from vetting.reviews.services import label_create

    s = scored
    QueueEntry.objects.create(candidate=s["a"], priority=3.0, strategy="uncertainty")
    QueueEntry.objects.create(candidate=s["b"], priority=2.0, strategy="committee")
    QueueEntry.objects.create(candidate=s["c"], priority=1.0, strategy="random")
    label_create(candidate=s["a"], vetter=vetter, label_class="PC")
    rows = vetter_client.get("/api/queue/?limit=2").json()
    assert [r["id"] for r in rows] == [s["b"].pk, s["c"].pk]
    assert rows[0]["queue_strategy"] == "committee" and rows[0]["p_planet"] == 0.1
    # Past the active-learning queue: the same fallbacks as the queue page (here d, which only an
    # old version scored: newest first).
    rows = vetter_client.get("/api/queue/?limit=5").json()
    assert [r["id"] for r in rows] == [s["b"].pk, s["c"].pk, s["d"].pk]
    assert [(r["queue_strategy"], r["queue_priority"], r["p_planet"]) for r in rows[1:]] == [
        ("random", 1.0, 0.55), ("fallback-newest", 0.0, None)]


def test_queue_limit_validated(vetter_client, db):
    for limit in ("0", "1000", "x"):
        response = vetter_client.get(f"/api/queue/?limit={limit}")
        assert response.status_code == 400
        assert "limit" in error_of(response)["fields"]
