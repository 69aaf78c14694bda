"""Server time of the candidate page and the queue page at 100,000 candidates.

What it does
------------
1. Creates a throwaway PostgreSQL database ``bench_pages_<pid>`` (on the server named by
   ``BENCH_DATABASE_URL``, default ``postgres://postgres@127.0.0.1:5432/postgres``) and
   migrates it. It is dropped at the end, also after an error or Ctrl-C.
2. Loads the data (``INSERT ... SELECT generate_series`` for the bulk, ``bulk_create`` for the
   rest): ``--candidates`` candidates (default 100,000) on 1/5 as many
   targets, an active classifier version with a prediction for every candidate, 500 queue
   entries, labels by 4 vetters on 2,000 candidates with their consensus, 200 open disputes.
   ``--with-payload`` candidates (default 2,000) carry a real plot payload (one simulated
   light curve processed by ``classifier.products.lightcurve_products``, shared by all of them).
3. Times ``--requests`` GETs (default 200) of each page with the Django test client (the whole
   Django stack: middleware, session, login, templates; no network) and prints p50/p95/max.

Run::

    .venv/bin/python bench/bench_pages.py                      # 100k candidates, ~1-2 minutes
    .venv/bin/python bench/bench_pages.py --candidates 20000 --requests 50   # quicker

The figure to watch: the candidate page p95 must stay below 150 ms.
"""
from __future__ import annotations

import os
import random

from _common import Stopwatch, Table, bench_parser, django_database, percentile


def populate(n_candidates: int, n_payload: int, seed: int = 1) -> dict:
    """Bulk-load the bench data; returns ids to request."""
    import numpy as np
    from django.contrib.auth.models import Group, User
    from django.db import connection

    from classifier import synthetic
    from classifier.jsonutil import jsonable
    from classifier.periodogram import bls_search
    from classifier.products import lightcurve_products
    from classifier.vocabulary import CLASS_CODES
    from vetting.candidates.models import Candidate, Target
    from vetting.learning.models import ClassifierVersion, QueueEntry
    from vetting.reviews.models import Consensus, Dispute, Label

    rng = random.Random(seed)
    setup = Stopwatch()
    sim = synthetic.simulate_candidate("PC", np.random.default_rng(seed), candidate_id="SIM-1.01")
    bls = bls_search(sim.time_bkjd, sim.flux, sim.flux_err, n_periods=2000)
    products = lightcurve_products(sim.time_bkjd, sim.flux, sim.flux_err, sim.quality, period_days=sim.period_days,
                                   epoch=sim.epoch_bkjd, duration_hours=sim.duration_hours, bls=bls)
    payload, features = products.payload, jsonable(products.metrics)

    vetter_group = Group.objects.get(name="vetter")
    vetters = []
    for i in range(4):
        u = User.objects.create_user(f"bench{i}", password="x")
        u.groups.add(vetter_group)
        vetters.append(u)

    n_targets = max(1, n_candidates // 5)
    # Set-based SQL for the bulk (seconds instead of the ORM's minutes); the ORM only for the
    # candidates with a plot payload (same JSON on all of them) and the small tables.
    with connection.cursor() as cursor:
        cursor.execute("""
            INSERT INTO candidates_target (mission, catalog_id, created_at, updated_at)
            SELECT 'kepler', 'KIC ' || g, now(), now() FROM generate_series(0, %s - 1) g""", [n_targets])
    target_ids = list(Target.objects.order_by("pk").values_list("pk", flat=True))
    n_payload = min(n_payload, n_candidates)
    Candidate.objects.bulk_create([Candidate(
        target_id=target_ids[i % n_targets], source_catalog="koi", catalog_id=f"K{i:06d}.01",
        period_days=rng.uniform(0.5, 300), epoch=rng.uniform(120, 600), duration_hours=rng.uniform(1, 12),
        depth_ppm=rng.uniform(50, 20000), snr=rng.uniform(7, 300),
        catalog_disposition=rng.choice(["CANDIDATE", "FALSE POSITIVE", "CONFIRMED"]),
        plot_payload=payload, features=features,
    ) for i in range(n_payload)], batch_size=500)
    with connection.cursor() as cursor:
        cursor.execute("SELECT setseed(%s)", [seed / 10])
        cursor.execute("""
            INSERT INTO candidates_candidate (target_id, source_catalog, catalog_id, period_days, epoch, epoch_system,
                duration_hours, depth_ppm, snr, catalog_disposition, catalog_features, features, simulated_truth,
                created_at, updated_at)
            SELECT t0.min_id + (g %% %(nt)s), 'koi', 'K' || lpad(g::text, 6, '0') || '.01', 0.5 + random() * 299.5,
                   120 + random() * 480, 'BKJD', 1 + random() * 11, 50 + random() * 19950, 7 + random() * 293,
                   (ARRAY['CANDIDATE', 'FALSE POSITIVE', 'CONFIRMED'])[1 + floor(random() * 3)::int],
                   '{}', '{}', '', now(), now()
            FROM generate_series(%(first)s, %(n)s - 1) g, (SELECT min(id) AS min_id FROM candidates_target) t0
            ORDER BY g""", {"nt": n_targets, "first": n_payload, "n": n_candidates})
    cids = list(Candidate.objects.order_by("pk").values_list("pk", flat=True))

    version = ClassifierVersion.objects.create(name="bench", artifact="models/bench.skops", artifact_sha256="0" * 64,
                                               label_snapshot_hash="0" * 64, classes=list(CLASS_CODES), is_active=True)
    with connection.cursor() as cursor:
        # Random probabilities per class, normalised; the top class, P(PC), P(PC+EB+BEB).
        cursor.execute("""
            INSERT INTO learning_prediction (candidate_id, classifier_version_id, probabilities, per_model,
                predicted_class, p_planet, p_triage, uncertainty, disagreement, created_at)
            SELECT r.id, %(v)s, p.probs, jsonb_build_object('forest', p.probs, 'cnn', p.probs), p.top,
                   (p.probs->>'PC')::float, (p.probs->>'PC')::float + (p.probs->>'EB')::float
                   + (p.probs->>'BEB')::float, random(), random() * 0.3, now()
            FROM (SELECT id, ARRAY(SELECT random() + 0 * id FROM unnest(%(codes)s::text[])) AS a
                  FROM candidates_candidate) r
            CROSS JOIN LATERAL (
                SELECT jsonb_object_agg(k, x / s.total) AS probs,
                       (array_agg(k ORDER BY x DESC))[1] AS top
                FROM unnest(%(codes)s::text[], r.a) AS u(k, x),
                     (SELECT sum(y) AS total FROM unnest(r.a) y) s
            ) p""", {"v": version.pk, "codes": list(CLASS_CODES)})
    QueueEntry.objects.bulk_create([QueueEntry(candidate_id=cid, priority=rng.random(), strategy="uncertainty",
                                               classifier_version=version) for cid in rng.sample(cids, 500)])
    labeled = cids[:2000]  # the first ones carry payloads: pages with labels and plots are the worst case
    Label.objects.bulk_create([Label(candidate_id=cid, vetter=v, label_class=rng.choice(CLASS_CODES), source="human",
                                     seconds_spent=rng.uniform(10, 90)) for cid in labeled for v in vetters[1:]],
                              batch_size=5000)
    Consensus.objects.bulk_create([Consensus(candidate_id=cid, label_class="PC", agreement=0.67, n_labels=3,
                                             method="weighted_majority") for cid in labeled], batch_size=5000)
    Dispute.objects.bulk_create([Dispute(candidate_id=cid, subject="prediction", model_version="bench",
                                         reason="bench", opened_by=vetters[1]) for cid in labeled[:200]])
    print(f"loaded {n_candidates:,} candidates, {len(cids):,} predictions, {len(labeled) * 3:,} labels "
          f"in {setup.wall:.1f} s")
    return {"user": vetters[0], "payload_ids": cids[:n_payload], "all_ids": cids}


def time_requests(client, urls: list[str]) -> list[float]:
    """Milliseconds per GET (each must answer 200)."""
    out = []
    for url in urls:
        with Stopwatch() as sw:
            response = client.get(url)
        out.append(sw.wall * 1000)
        if response.status_code != 200:
            raise SystemExit(f"GET {url} answered {response.status_code}")
    return out


TABLE = Table(("page", 42), ("n", 4, "d"), ("p50 ms", 8, ".1f"), ("p95 ms", 8, ".1f"), ("max ms", 8, ".1f"))


def report(name: str, ms: list[float]) -> None:
    TABLE.row(name, len(ms), percentile(ms, 50), percentile(ms, 95), max(ms))


def main() -> None:
    parser = bench_parser(__doc__, quick="5,000 candidates, 20 requests")
    parser.add_argument("--candidates", type=int, default=100_000)
    parser.add_argument("--with-payload", type=int, default=2_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--keep", action="store_true", help="keep the database (for EXPLAIN sessions)")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of 20 candidate pages")
    args = parser.parse_args()
    if args.quick:
        args.candidates, args.with_payload, args.requests = 5_000, 200, 20

    with django_database(f"bench_pages_{os.getpid()}", settings="vetting.settings.test", keep=args.keep):
        from django.conf import settings

        # Persistent connections as in production (base settings: CONN_MAX_AGE=60); the test
        # settings close the connection after every request, which would time connecting.
        settings.DATABASES["default"]["CONN_MAX_AGE"] = 60
        from django.db import connection
        from django.test import Client
        from django.test.utils import CaptureQueriesContext

        data = populate(args.candidates, min(args.with_payload, args.candidates))
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")  # fresh statistics, as autovacuum would give a live site
        client = Client()
        client.force_login(data["user"])
        rng = random.Random(2)
        n = args.requests
        detail = [f"/candidates/{rng.choice(data['payload_ids'])}/" for _ in range(n)]
        plain = [f"/candidates/{rng.choice(data['all_ids'])}/" for _ in range(n)]
        time_requests(client, detail[:10] + ["/candidates/"] * 3)  # warm caches and imports
        with CaptureQueriesContext(connection) as ctx:
            client.get(detail[0])
        print(f"candidate page: {len(ctx.captured_queries)} queries")
        with CaptureQueriesContext(connection) as ctx:
            client.get("/candidates/")
        print(f"queue page: {len(ctx.captured_queries)} queries")
        if args.profile:
            import cProfile
            import pstats

            prof = cProfile.Profile()
            prof.runcall(time_requests, client, detail[:20])
            pstats.Stats(prof).sort_stats("tottime").print_stats(25)
        TABLE.header()
        report("candidate page (with plots, labels)", time_requests(client, detail))
        report("candidate page (random candidate)", time_requests(client, plain))
        report("queue page (default order)", time_requests(client, ["/candidates/"] * n))
        report("queue page (page 40, p_planet sort)",
               time_requests(client, ["/candidates/?ordering=-p_planet&page=40"] * max(1, n // 4)))
        filtered = "/candidates/?mission=kepler&model_class=EB&p_planet_min=0.1&p_planet_max=0.5"
        report("queue page (filters: kepler, EB, 0.1-0.5)", time_requests(client, [filtered] * max(1, n // 4)))


if __name__ == "__main__":
    main()
