"""The queue page's counts at survey scale (issue 16): above ``ESTIMATE_TOTAL_ABOVE`` candidates
the total is the planner's estimate (no COUNT over the table), still in one query; the counts a
vetter acts on stay exact; the page says "about"."""
from __future__ import annotations

import pytest
from django.core.cache import cache
from django.db import connection

from vetting.core import db
from vetting.learning import queue_selectors as selectors

pytestmark = pytest.mark.django_db


def _analyze_with_stale_total(n_more: int, make_candidate) -> None:
    """ANALYZE now, then add ``n_more`` candidates the statistics do not know of yet."""
    from vetting.candidates.models import Candidate

    db.analyze(Candidate)
    for _ in range(n_more):
        make_candidate()


def test_total_is_the_planner_estimate_above_the_threshold_in_one_query(make_candidate, vetter, monkeypatch,
                                                                        django_assert_num_queries):
    for _ in range(6):
        make_candidate()
    _analyze_with_stale_total(2, make_candidate)  # 8 rows, the statistics say 6
    monkeypatch.setattr(selectors, "ESTIMATE_TOTAL_ABOVE", 5)
    cache.delete(selectors._SITE_COUNTS_KEY)
    with django_assert_num_queries(1) as ctx:
        counts = selectors.queue_counts(user=vetter)
    assert counts["total"] == 6 and counts["total_estimated"] is True
    assert counts["without_consensus"] == 6 and counts["mine"] == 0 and counts["queued_for_me"] == 0
    # No COUNT over the candidates in the statement at all, not even an unrun branch: the planner
    # costs every branch, and near a million rows that cost switched on JIT compilation (60-100 ms).
    assert "FROM \"candidates_candidate\"" not in ctx.captured_queries[0]["sql"]


def test_below_the_threshold_a_second_query_counts_exactly(make_candidate, vetter, monkeypatch,
                                                           django_assert_num_queries):
    for _ in range(3):
        make_candidate()
    monkeypatch.setattr(selectors, "ESTIMATE_TOTAL_ABOVE", 100)
    cache.delete(selectors._SITE_COUNTS_KEY)
    with django_assert_num_queries(2):
        assert selectors.queue_counts(user=vetter)["total"] == 3
    with django_assert_num_queries(1):  # the site counts are cached: only the user's own are read
        selectors.queue_counts(user=vetter)


def test_counts_statement_stays_cheap_to_plan_at_scale(vetter, monkeypatch):
    """EXPLAIN of the counts statement: its planned cost stays far under PostgreSQL's
    ``jit_above_cost`` however many candidates the planner believes in (the cost of a COUNT
    over the table grows with it)."""
    from django.core.cache import cache as django_cache
    from django.test.utils import CaptureQueriesContext

    django_cache.delete(selectors._SITE_COUNTS_KEY)
    with CaptureQueriesContext(connection) as ctx:
        selectors.queue_counts(user=vetter)
    sql = ctx.captured_queries[0]["sql"]
    with connection.cursor() as cursor:
        # make the planner believe in 5M candidates: a COUNT over them would cost millions
        cursor.execute("UPDATE pg_class SET reltuples = 5e6, relpages = 100000 WHERE relname = 'candidates_candidate'")
        cursor.execute("EXPLAIN (FORMAT JSON) " + sql)
        plan = cursor.fetchone()[0]
    plan = plan[0] if isinstance(plan, list) else __import__("json").loads(plan)[0]
    assert plan["Plan"]["Total Cost"] < 1000


def test_total_is_exact_below_the_threshold(make_candidate, vetter, monkeypatch):
    for _ in range(6):
        make_candidate()
    _analyze_with_stale_total(2, make_candidate)
    monkeypatch.setattr(selectors, "ESTIMATE_TOTAL_ABOVE", 100)
    cache.delete(selectors._SITE_COUNTS_KEY)
    counts = selectors.queue_counts(user=vetter)
    assert counts["total"] == 8 and counts["total_estimated"] is False


def test_the_queue_page_says_about_when_the_total_is_estimated(make_candidate, vetter, client, monkeypatch):
    assert connection.vendor == "postgresql"
    for _ in range(6):
        make_candidate()
    db.analyze(__import__("vetting.candidates.models", fromlist=["Candidate"]).Candidate)
    monkeypatch.setattr(selectors, "ESTIMATE_TOTAL_ABOVE", 5)
    cache.delete(selectors._SITE_COUNTS_KEY)
    client.force_login(vetter)
    html = client.get("/candidates/").content.decode()
    assert "about </span><strong>6</strong> of 6 candidates without a team label" in html
    assert "About 6 candidates match" in html
    monkeypatch.setattr(selectors, "ESTIMATE_TOTAL_ABOVE", 100)
    cache.delete(selectors._SITE_COUNTS_KEY)
    html = client.get("/candidates/").content.decode()
    assert "about </span>" not in html and "<strong>6</strong> of 6 candidates without a team label" in html
    assert "About 6" not in html and "6 candidates match" in html
