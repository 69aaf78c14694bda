"""API list/queue benchmark: p50/p95 server time per endpoint with 1,000,000 candidates in PostgreSQL.

Database: a dedicated PostgreSQL database ``vetting_bench_api`` on the server of
``BENCH_DATABASE_URL`` (default ``postgres://postgres@127.0.0.1:5432/postgres``), created,
migrated, filled with ``INSERT ... SELECT generate_series`` (targets, candidates, an active and an
old classifier version with one prediction per candidate, a queue, labels with consensus, open
disputes), ANALYZEd, and dropped at the end (``--keep`` keeps it for EXPLAIN sessions).

Timing: requests go through Django's full stack in-process (``APIClient`` with token auth, so
middleware, authentication, permissions, filtering, pagination and serialization are all
counted; no network). Each endpoint gets ``--warmup`` untimed then ``--repeat`` timed requests;
the cursor walk follows ``next`` page after page and times every page. Prints p50/p95/max wall ms,
the median Python CPU ms and summed SQL ms, and the SQL queries per request, then the worst p95
against ``--target-ms`` (default 100) as OK or OVER TARGET: a figure, not a failure (exit code 0;
a request that does not answer 200 stops the script).

Usage: ``.venv/bin/python bench/bench_api.py [--candidates 1000000] [--repeat 30] [--keep] [--explain]``
"""
from __future__ import annotations

import os
import statistics
import sys

from _common import Stopwatch, Table, bench_parser, django_database, percentile

DB_NAME = "vetting_bench_api"


def main() -> int:
    parser = bench_parser(__doc__, quick="20,000 candidates, 5 repeats")
    parser.add_argument("--candidates", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--target-ms", type=float, default=100.0)
    parser.add_argument("--keep", action="store_true", help="do not drop the database at the end")
    parser.add_argument("--explain", action="store_true", help="print the SQL plan of each endpoint's main query")
    args = parser.parse_args()
    if args.quick:
        args.candidates, args.repeat = 20_000, 5
    with django_database(DB_NAME, keep=args.keep, log_level="ERROR"):
        return run(args)


# --- data ---------------------------------------------------------------------------------------

def fill(n: int) -> dict:
    """Bulk rows with set-based SQL (seconds, not the ORM's minutes). Returns ids the timing needs."""
    from django.contrib.auth.models import Group, User
    from django.db import connection
    from rest_framework.authtoken.models import Token

    from vetting.learning.models import ClassifierVersion

    vetter = User.objects.create_user("bench-vetter", password="x")
    vetter.groups.add(Group.objects.get(name="vetter"))
    curator = User.objects.create_user("bench-curator", password="x")
    curator.groups.add(Group.objects.get(name="curator"))
    versions = [
        ClassifierVersion.objects.create(name=name, artifact=f"models/{name}", artifact_sha256="0" * 64,
                                         label_snapshot_hash="0" * 64, is_active=active,
                                         status="promoted" if active else "retired")
        for name, active in (("bench-v1", False), ("bench-v2", True))
    ]
    n_targets = max(1, n // 5)
    n_labels, n_queue, n_disputes = max(1, n // 50), 500, max(1, n // 1000)
    steps = [
        ("targets", f"""
            INSERT INTO candidates_target (mission, catalog_id, created_at, updated_at)
            SELECT CASE WHEN g % 2 = 0 THEN 'kepler' ELSE 'tess' END,
                   CASE WHEN g % 2 = 0 THEN 'KIC ' ELSE 'TIC ' END || g, now(), now()
            FROM generate_series(1, {n_targets}) g"""),
        ("candidates", f"""
            INSERT INTO candidates_candidate (target_id, source_catalog, catalog_id, period_days, epoch, epoch_system,
                duration_hours, depth_ppm, snr, catalog_disposition, catalog_features, features, simulated_truth,
                created_at, updated_at)
            SELECT t0.min_id + (g % {n_targets}), CASE WHEN g % 2 = 0 THEN 'koi' ELSE 'toi' END,
                   'C' || lpad(g::text, 8, '0') || '.01', 0.5 + random() * 300, 130 + random(), 'BKJD',
                   1 + random() * 10, 100 + random() * 20000, 7 + random() * 100,
                   (ARRAY['CONFIRMED', 'CANDIDATE', 'FALSE POSITIVE', ''])[1 + g % 4], '{{}}', '{{}}', '',
                   now() - make_interval(secs => {n} - g), now()
            FROM generate_series(1, {n}) g, (SELECT min(id) AS min_id FROM candidates_target) t0"""),
        ("predictions (2 versions)", f"""
            INSERT INTO learning_prediction (candidate_id, classifier_version_id, probabilities, per_model,
                predicted_class, p_planet, p_triage, uncertainty, disagreement, created_at)
            SELECT c.id, v.id, jsonb_build_object('PC', p.p, 'EB', 1 - p.p), '{{}}',
                   CASE WHEN p.p >= 0.5 THEN 'PC' ELSE 'EB' END, p.p, least(1, p.p + 0.2), random(), random() * 0.3,
                   now()
            FROM candidates_candidate c
            CROSS JOIN (VALUES ({versions[0].pk}), ({versions[1].pk})) v(id)
            CROSS JOIN LATERAL (SELECT random() + 0 * c.id AS p) p
            WHERE v.id = {versions[1].pk} OR c.id % 10 = 0"""),
        ("queue", f"""
            INSERT INTO learning_queueentry (candidate_id, priority, strategy, classifier_version_id, created_at)
            SELECT id, random(), 'uncertainty', {versions[1].pk}, now()
            FROM candidates_candidate ORDER BY random() LIMIT {n_queue}"""),
        ("labels", f"""
            INSERT INTO reviews_label (candidate_id, vetter_id, label_class, confidence, note, source, is_current,
                is_gold, excluded_from_training, created_at)
            SELECT id, {vetter.pk}, (ARRAY['PC', 'EB', 'V', 'J'])[1 + id % 4], 1.0, '', 'human', true, false, false,
                   now()
            FROM candidates_candidate WHERE id % 50 = 0 LIMIT {n_labels}"""),
        ("consensus", """
            INSERT INTO reviews_consensus (candidate_id, label_class, agreement, n_labels, method, needs_review,
                updated_at)
            SELECT candidate_id, label_class, 1.0, 1, 'weighted_majority', false, now() FROM reviews_label"""),
        ("disputes", f"""
            INSERT INTO reviews_dispute (candidate_id, subject, model_version, disputed_class, proposed_class, reason,
                opened_by_id, status, resolution, resolved_class, created_at)
            SELECT id, 'prediction', 'bench-v2', 'PC', 'EB', 'bench', {vetter.pk}, 'open', '', '', now()
            FROM candidates_candidate WHERE id % 1000 = 7 LIMIT {n_disputes}"""),
    ]
    for name, sql in steps:
        with Stopwatch() as sw, connection.cursor() as cursor:
            cursor.execute(sql)
            count = cursor.rowcount
        print(f"  {name:<26} {count:>10,} rows  {sw.wall:6.1f} s", flush=True)
    with Stopwatch() as sw, connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(f"  {'ANALYZE':<26} {'':>15}  {sw.wall:6.1f} s", flush=True)
    some = connection.cursor()
    some.execute("SELECT catalog_id FROM candidates_candidate ORDER BY id LIMIT 1 OFFSET %s", [n // 2])
    return {"vetter_token": Token.objects.create(user=vetter).key,
            "curator_token": Token.objects.create(user=curator).key,
            "catalog_id": some.fetchone()[0]}


# --- timing -------------------------------------------------------------------------------------

def endpoints(ids: dict) -> list[tuple[str, str, str]]:
    """(name, role, url) of every list/queue request timed."""
    return [
        ("candidates newest", "vetter", "/api/candidates/"),
        ("candidates mission=tess", "vetter", "/api/candidates/?mission=tess"),
        ("candidates by catalog_id", "vetter", f"/api/candidates/?catalog_id={ids['catalog_id']}"),
        ("candidates disposition", "vetter", "/api/candidates/?catalog_disposition=CONFIRMED"),
        ("candidates by p_planet", "vetter", "/api/candidates/?ordering=-p_planet"),
        ("candidates p_planet 0.4-0.6", "vetter", "/api/candidates/?p_planet_min=0.4&p_planet_max=0.6"),
        ("candidates model_class=PC", "vetter", "/api/candidates/?model_class=PC&ordering=-uncertainty"),
        ("candidates unlabeled", "vetter", "/api/candidates/?labeled=false&disputed=false"),
        ("candidates not mine", "vetter", "/api/candidates/?labeled_by_me=false&mission=kepler"),
        ("candidates disputed", "vetter", "/api/candidates/?disputed=true"),
        ("candidates by priority", "vetter", "/api/candidates/?ordering=-priority"),
        ("queue next 20", "vetter", "/api/queue/?limit=20"),
        ("predictions active", "vetter", "/api/predictions/"),
        ("predictions uncertain", "vetter", "/api/predictions/?ordering=-uncertainty&page_size=100"),
        ("predictions old version", "vetter", "/api/predictions/?classifier_version=bench-v1"),
        ("labels (curator)", "curator", "/api/labels/"),
        ("labels mine (vetter)", "vetter", "/api/labels/?label_class=PC"),
    ]


def timed(client, url: str) -> tuple[float, float, float, int, dict]:
    """Wall ms, Python CPU ms, summed SQL ms, query count and body of one request."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries, Stopwatch() as sw:
        response = client.get(url)
    if response.status_code != 200:
        raise SystemExit(f"{url} -> {response.status_code}: {response.content[:300]!r}")
    sql_ms = sum(float(q["time"]) for q in queries.captured_queries) * 1000
    return sw.wall * 1000, sw.cpu * 1000, sql_ms, len(queries), response.json()


def explain(client, url: str) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        client.get(url)
    main_sql = max(queries.captured_queries, key=lambda q: len(q["sql"]))["sql"]
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + main_sql)
        print("\n".join("      " + row[0] for row in cursor.fetchall()))


def run(args) -> int:
    from django.conf import settings
    from rest_framework.test import APIClient

    settings.DEBUG = False  # no per-query logging overhead in the timings
    print(f"database {DB_NAME}: fill with {args.candidates:,} candidates", flush=True)
    ids = fill(args.candidates)

    clients = {}
    for role in ("vetter", "curator"):
        clients[role] = APIClient()
        clients[role].credentials(HTTP_AUTHORIZATION=f"Token {ids[role + '_token']}")

    load = os.getloadavg()[0]
    print(f"\nload average {load:.1f} on {os.cpu_count()} cores (wall times include waiting for a core)")
    table = Table(("endpoint", 30), ("p50 ms", 8, ".1f"), ("p95 ms", 8, ".1f"), ("max ms", 8, ".1f"),
                  ("cpu p50", 8, ".1f"), ("sql p50", 8, ".1f"), ("queries", 8, "d"), ("rows", 5, "d"))
    table.header()
    worst = 0.0

    def report(name, samples, cpus, sqls, n_queries, rows):
        nonlocal worst
        p95 = percentile(samples, 95)
        worst = max(worst, p95)
        table.row(name, percentile(samples, 50), p95, max(samples), statistics.median(cpus), statistics.median(sqls),
                  n_queries, rows)

    for name, role, url in endpoints(ids):
        client = clients[role]
        for _ in range(args.warmup):
            timed(client, url)
        samples, cpus, sqls, n_queries, rows = [], [], [], 0, 0
        for _ in range(args.repeat):
            ms, cpu, sql, n_queries, body = timed(client, url)
            samples.append(ms), cpus.append(cpu), sqls.append(sql)
            rows = len(body["results"]) if isinstance(body, dict) else len(body)
        report(name, samples, cpus, sqls, n_queries, rows)
        if args.explain:
            explain(client, url)

    # Keyset pagination: page N costs what page 1 costs (no OFFSET scan, no COUNT(*)).
    for name, url in (("walk 50 pages by -p_planet", "/api/candidates/?ordering=-p_planet&page_size=100"),
                      ("walk 50 pages newest", "/api/candidates/?page_size=100")):
        samples, cpus, sqls = [], [], []
        for _ in range(50):
            ms, cpu, sql, n_queries, body = timed(clients["vetter"], url)
            samples.append(ms), cpus.append(cpu), sqls.append(sql)
            url = body["next"]
        report(name, samples, cpus, sqls, n_queries, len(body["results"]))

    verdict = "OK" if worst < args.target_ms else "OVER TARGET"
    print(f"\nworst p95 {worst:.1f} ms (target < {args.target_ms:.0f} ms): {verdict}")
    return 0  # a speed figure is reported, not enforced: errors above already raised


if __name__ == "__main__":
    sys.exit(main())
