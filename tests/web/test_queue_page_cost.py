"""The queue page's cost does not grow with the number of candidates (issue 16), and the
shortcuts that made it cheaper (rows written in Python, filter fields rendered once per query
string) show what the template showed."""
from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.web.pagedata import make_prediction, make_queue_entry, make_version
from vetting.learning.models import MislabelFlag, TrainingRun
from vetting.reviews import services
from vetting.web.views import candidates as views

pytestmark = pytest.mark.django_db


def _grow(make_candidate, version, vetter2, n: int, start: int) -> None:
    """``n`` more candidates, each scored, half of them queued, some labeled or claimed by a
    colleague: everything the page's queries join grows."""
    for i in range(start, start + n):
        c = make_candidate(f"K{i:05d}.01")
        make_prediction(c, version, uncertainty=(i % 10) / 10, p_top=0.3 + (i % 7) / 10)
        if i % 2:
            make_queue_entry(c, priority=float(i % 5), strategy="committee", version=version)
        if i % 5 == 0:
            services.label_create(candidate=c, vetter=vetter2, label_class="PC")
        if i % 7 == 0:
            services.assignment_claim(vetter=vetter2, candidate_ids=[c.pk])


@pytest.mark.parametrize("path", ["/candidates/", "/candidates/?ordering=-uncertainty&p_planet_min=0.4",
                                  "/candidates/?labeled_by_me=true"])
def test_queue_page_queries_do_not_grow_with_candidates(client, vetter, vetter2, make_candidate, path):
    version = make_version()
    _grow(make_candidate, version, vetter2, 6, 0)
    client.force_login(vetter)
    client.get(path)  # warm the per-process and short-lived caches alike: both runs below miss or hit the same
    with CaptureQueriesContext(connection) as small:
        assert client.get(path).status_code == 200
    _grow(make_candidate, version, vetter2, 120, 6)
    with CaptureQueriesContext(connection) as large:
        assert client.get(path).status_code == 200
    # session, user, active version, counts, the filtered COUNT (capped), one id query per part
    # of the order (at most 3: queued, scored, the rest), rows, the user's groups: how many parts
    # are read depends on where the page falls, never on how many candidates there are.
    assert len(small.captured_queries) <= 10 and len(large.captured_queries) <= 10


def test_api_queue_queries_do_not_grow_with_candidates(client, vetter, vetter2, make_candidate):
    from rest_framework.authtoken.models import Token

    version = make_version()
    _grow(make_candidate, version, vetter2, 6, 0)
    headers = {"HTTP_AUTHORIZATION": f"Token {Token.objects.create(user=vetter).key}"}
    client.get("/api/queue/?limit=3", **headers)
    services.label_create(candidate=vetter.assignments.first().candidate, vetter=vetter, label_class="EB")
    with CaptureQueriesContext(connection) as small:
        assert client.get("/api/queue/?limit=3", **headers).status_code == 200
    _grow(make_candidate, version, vetter2, 120, 6)
    with CaptureQueriesContext(connection) as large:
        assert client.get("/api/queue/?limit=3", **headers).status_code == 200
    assert len(large.captured_queries) <= len(small.captured_queries)


def test_rows_show_every_column_and_tag(client, vetter, vetter2, curator, make_candidate):
    version = make_version()
    queued = make_candidate("K00001.01", period_days=3.14159, depth_ppm=812.4, snr=12.34,
                            catalog_disposition="CANDIDATE")
    make_queue_entry(queued, priority=0.4567, strategy="likely_planet", version=version)
    make_prediction(queued, version, top="PC", p_top=0.875, uncertainty=0.25)
    settled = make_candidate("K00002.01", catalog_disposition="")
    services.label_create(candidate=settled, vetter=vetter2, label_class="EB")
    services.label_create(candidate=settled, vetter=curator, label_class="EB")
    services.dispute_open(candidate=settled, opened_by=vetter2, reason="odd/even", model_version=version.name)
    run = TrainingRun.objects.create()
    MislabelFlag.objects.create(candidate=settled, training_run=run, given_class="EB", suggested_class="PC",
                                score=0.12)
    client.force_login(curator)
    html = client.get("/candidates/?labeled_by_me=true").content.decode()  # the curator labeled `settled`
    assert f'<a href="/candidates/{settled.pk}/">K00002.01</a>' in html
    assert '<span class="tag warn">disputed</span><span class="tag">team: EB</span>' in html
    assert '<span class="tag ok">labeled by you</span>' in html
    assert "gives the team&#x27;s class EB only 12% and prefers PC" in html
    html = client.get("/candidates/").content.decode()
    row = html[html.index(f'<a href="/candidates/{queued.pk}/">'):]
    row = row[:row.index("</tr>")]
    for cell in ('<span title="priority 0.457">likely planet</span>', "<td>PC</td>",
                 '<meter min="0" max="1" value="0.875000" aria-hidden="true"></meter> 0.88', "<td>0.25</td>",
                 "<td>3.1416</td>", "<td>812</td>", "<td>12.3</td>", "<td>CANDIDATE</td>", "<td>Kepler</td>"):
        assert cell in row, cell
    assert f'href="/candidates/{queued.pk}/">Start vetting: K00001.01' in html
    client.force_login(vetter)
    html = client.get("/candidates/").content.decode()
    assert "team: EB" not in html  # the visibility rule: vetter has not labeled it


def test_filter_fields_follow_the_query_string_and_bad_values(client, vetter, make_candidate):
    make_candidate()
    client.force_login(vetter)
    views.filter_fields_html.cache_clear()
    html = client.get("/candidates/?mission=tess&ordering=-snr").content.decode()
    assert '<option value="tess" selected>' in html and '<option value="-snr" selected>' in html
    html = client.get("/candidates/?mission=kepler").content.decode()
    assert '<option value="kepler" selected>' in html and '<option value="tess" selected>' not in html
    html = client.get("/candidates/?labeled_by_me=true&page=2").content.decode()
    assert 'name="labeled_by_me" value="true" checked' in html
    assert views.filter_fields_html.cache_info().currsize == 3  # page is not part of the key
    html = client.get("/candidates/?p_planet_min=2&mission=mars").content.decode()
    assert 'role="alert"' in html and 'value="2"' in html  # bad values: shown with their errors, not cached
    assert views.filter_fields_html.cache_info().currsize == 3


def test_queue_rows_html_escapes_like_format_html():
    """The rows written with ``str.format`` escape every cell as ``format_html`` (and the
    template before it) did: hostile catalog values come out as text, safe fragments as markup."""
    from types import SimpleNamespace

    from django.utils.html import format_html
    from django.utils.safestring import mark_safe

    from vetting.web.queue_table import _ROW, queue_rows_html

    hostile = "<script>alert('x')</script> & \"q\""
    row = SimpleNamespace(
        url="/candidates/1/?a=1&b=2", catalog_id=hostile, target=SimpleNamespace(
            catalog_id=hostile, get_mission_display=lambda: "TESS"),
        queue_priority=None, queue_strategy=None, mislabel_reason=hostile, predicted_class=hostile, p_planet=None,
        uncertainty=None, period_days=None, depth_ppm=None, snr=None, catalog_disposition=hostile,
        has_open_dispute=True, visible_consensus=SimpleNamespace(label_class=hostile), is_mine=True)
    got = queue_rows_html([row])
    assert "<script>" not in got and got.count("&lt;script&gt;") == 6
    reason = format_html('<br><small class="muted">{}</small>', hostile)
    want = format_html(_ROW, row.url, hostile, hostile, "TESS", "—", reason, hostile, "—", "—", "", "", "", hostile,
                       mark_safe('<span class="tag warn">disputed</span>'
                                 + format_html('<span class="tag">team: {}</span>', hostile)
                                 + '<span class="tag ok">labeled by you</span>'))
    assert got == want
