"""Queue and candidate pages: order, filters, plots, and a constant number of queries."""
from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.web.pagedata import make_prediction, make_queue_entry, make_version, simulated_payload
from vetting.reviews import services

pytestmark = pytest.mark.django_db


def _queue_ids(html: str) -> list[str]:
    return re.findall(r'<th scope="row"><a href="/candidates/\d+/">([^<]+)</a>', html)


def test_queue_order_priority_then_uncertainty_then_newest_and_hides_my_labels(client, vetter, make_candidate):
    version = make_version()
    newest_plain, low_q, high_q, unsure, sure, mine = (make_candidate(f"K0000{i}.01") for i in range(6))
    make_queue_entry(high_q, 5.0, "committee", version)
    make_queue_entry(low_q, 1.0, "random", version)
    make_prediction(unsure, version, uncertainty=0.9)
    make_prediction(sure, version, uncertainty=0.1)
    services.label_create(candidate=mine, vetter=vetter, label_class="PC")
    client.force_login(vetter)
    page = client.get(reverse("candidate-queue")).content.decode()
    # queue entries by priority, then the model's uncertainty, then the unscored one
    assert _queue_ids(page) == ["K00002.01", "K00001.01", "K00003.01", "K00004.01", "K00000.01"]
    assert "committee" in page and "random" in page
    mine_page = client.get(reverse("candidate-queue") + "?labeled_by_me=true").content.decode()
    assert _queue_ids(mine_page) == ["K00005.01"]


def test_queue_filters(client, vetter, vetter2, make_candidate):
    version = make_version()
    kepler_pc = make_candidate("K00001.01", catalog_disposition="CANDIDATE")
    kepler_eb = make_candidate("K00002.01", catalog_disposition="FALSE POSITIVE")
    tess = make_candidate("TOI-101.01", mission="tess", target_id="TIC 1")
    make_prediction(kepler_pc, version, top="PC", p_top=0.9)
    make_prediction(kepler_eb, version, top="EB", p_top=0.8)
    make_prediction(tess, version, top="PC", p_top=0.5)
    services.label_create(candidate=kepler_eb, vetter=vetter2, label_class="EB")
    services.dispute_open(candidate=tess, opened_by=vetter2, reason="odd/even", model_version="v1")
    client.force_login(vetter)
    url = reverse("candidate-queue")

    def ids(query: str) -> set[str]:
        return set(_queue_ids(client.get(url + "?" + query).content.decode()))

    assert ids("mission=tess") == {"TOI-101.01"}
    assert ids("catalog_disposition=candidate") == {"K00001.01"}
    assert ids("model_class=EB") == {"K00002.01"}
    assert ids("p_planet_min=0.4&p_planet_max=0.6") == {"TOI-101.01"}
    assert ids("labeled=true") == {"K00002.01"}
    assert ids("labeled=false") == {"K00001.01", "TOI-101.01"}
    assert ids("disputed=true") == {"TOI-101.01"}
    assert _queue_ids(client.get(url + "?ordering=-p_planet").content.decode())[0] == "K00001.01"
    bad = client.get(url + "?p_planet_min=2").content.decode()
    assert "Ensure this value is less than or equal to 1" in bad
    assert len(_queue_ids(bad)) == 3  # the bad filter is reported and ignored, nothing is hidden


def _populate(make_candidate, version, users, n: int) -> list:
    """n candidates with predictions, queue entries, labels by each user and an open dispute."""
    made = []
    for i in range(n):
        c = make_candidate()
        make_prediction(c, version, uncertainty=i / max(n, 1))
        make_queue_entry(c, float(i), version=version)
        for u in users:
            services.label_create(candidate=c, vetter=u, label_class="PC" if i % 2 else "EB")
        services.dispute_open(candidate=c, opened_by=users[0], reason="check", model_version=version.name)
        made.append(c)
    return made


def _count(client, url: str) -> int:
    """Queries of one page load with a cold cache (site-wide counts and running jobs are cached)."""
    from django.core.cache import cache

    cache.clear()
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_queue_page_queries_do_not_grow_with_candidates(client, vetter, vetter2, curator, make_candidate,
                                                        django_assert_max_num_queries):
    version = make_version()
    _populate(make_candidate, version, [vetter2, curator], 3)
    client.force_login(vetter)
    small = _count(client, reverse("candidate-queue"))
    _populate(make_candidate, version, [vetter2, curator], 25)
    large = _count(client, reverse("candidate-queue"))
    assert small == large
    # session, user, groups, 2 running-jobs lists, version, counts, capped match count, page ids
    # per part of the order (at most 3, plus a COUNT of a part the page lies past), rows
    with django_assert_max_num_queries(12):
        client.get(reverse("candidate-queue") + "?labeled=true&disputed=true&ordering=-uncertainty")
    # Within a few seconds the running-jobs lists and the site counts come from the cache: 3
    # queries fewer (2 lists, and the exact candidate count read below ESTIMATE_TOTAL_ABOVE).
    assert _count_warm(client, reverse("candidate-queue")) == large - 3


def _count_warm(client, url: str) -> int:
    assert client.get(url).status_code == 200
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_candidate_page_queries_do_not_grow_with_labels_and_disputes(client, vetter, vetter2, curator,
                                                                     django_user_model, make_candidate,
                                                                     django_assert_max_num_queries):
    version = make_version()
    target, *_ = _populate(make_candidate, version, [vetter2], 5)
    client.force_login(curator)
    url = reverse("candidate-detail", args=[target.pk])
    before = _count(client, url)
    from django.contrib.auth.models import Group

    for i in range(8):  # many more vetters, labels, disputes and comments on the same candidate
        u = django_user_model.objects.create_user(username=f"extra{i}", password="x")
        u.groups.add(Group.objects.get(name="vetter"))
        services.label_create(candidate=target, vetter=u, label_class="V")
        d = services.dispute_open(candidate=target, opened_by=u, reason="r", model_version=version.name)
        services.dispute_comment(dispute=d, author=u, text="c")
    assert _count(client, url) == before
    # the page's own reads + claiming the "next" candidate for the vetter (known-answer check,
    # savepoint, lock, room, upsert, release)
    with django_assert_max_num_queries(20):
        client.get(url)


def test_candidate_page_with_payload_draws_every_plot_and_the_model(client, vetter, make_candidate):
    payload, fields = simulated_payload("PC")
    candidate = make_candidate("SIM-000001.01", mission="simulated", plot_payload=payload, **fields)
    make_prediction(candidate, make_version("v7"), top="PC", p_top=0.8, uncertainty=0.35)
    client.force_login(vetter)
    page = client.get(reverse("candidate-detail", args=[candidate.pk])).content.decode()
    for name in ("folded", "odd_even", "secondary", "phase", "views", "timeseries", "periodogram"):
        assert f'id="fig-{name}"' in page
    assert '<script id="figure-data" type="application/json">' in page
    assert "/static/vendor/plotly-vetting.min.js" in page
    assert "Version <strong>v7</strong> predicts <strong>PC</strong>" in page
    assert "forest" in page and "cnn" in page  # per-model columns
    assert "depth" in page and "ppm" in page  # vetting metrics with units
    assert "Simulated truth" not in page  # never before labeling
    assert 'data-key="6"' in page and "<kbd>j</kbd>" in page


def test_catalog_only_candidate_says_no_light_curve(client, vetter, make_candidate):
    candidate = make_candidate("K00009.01", catalog_disposition="CANDIDATE")
    client.force_login(vetter)
    page = client.get(reverse("candidate-detail", args=[candidate.pk])).content.decode()
    assert "No light curve yet" in page
    assert "plotly-vetting.min.js" not in page
    assert "4.000000 d" in page  # period from the catalog, 7 significant figures, with its unit


def test_skip_moves_on_and_is_remembered(client, vetter, make_candidate):
    a, b, c = make_candidate(), make_candidate(), make_candidate()
    for cand, prio in ((a, 3.0), (b, 2.0), (c, 1.0)):
        make_queue_entry(cand, prio)
    client.force_login(vetter)
    assert client.post(reverse("candidate-skip", args=[a.pk]))["Location"] == reverse("candidate-detail", args=[b.pk])
    assert client.post(reverse("candidate-skip", args=[b.pk]))["Location"] == reverse("candidate-detail", args=[c.pk])
    assert client.get(reverse("candidate-skip", args=[c.pk])).status_code == 405
