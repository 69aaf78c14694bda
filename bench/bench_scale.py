"""Survey scale: 1,000,000 simulated candidates imported, light curves processed, rescored and served.

What it does (each step prints its figures as it ends)
------------------------------------------------------
1. A throwaway PostgreSQL database ``bench_scale_<pid>`` (``BENCH_DATABASE_URL``), the test
   settings (Redis db 9 under a private key prefix, media in a temporary folder), migrated.
2. Demo pool: ``--pool`` simulated candidates with light curves, products and seed labels
   (``vetting.reviews.demo.load_demo``): the light curves and the labels to train on.
3. Table import: a simulated TOI table of ``--candidates`` minus the pool rows (CSV on disk) through
   ``vetting.candidates.services.import_catalog_file`` (the product's catalog import, one
   process): rows/s.
4. Light curves for ``--lc-share`` of the imported candidates (default 1.5 %): LightCurve rows
   pointing at the pool's stored files (one file shared by many rows, so the bench does not
   write gigabytes; disk is counted as mean file size x rows) with the pool candidate's
   ephemeris, so processing them is real work.
5. Light-curve processing: a products job (``products_job_create``: brief F's import fan-out,
   chunks of ``VETTING_IMPORT_CHUNK_CANDIDATES``) over ``--lc-sample`` of those candidates, run by a
   real Celery worker with ``--concurrency 1`` and then ``2`` (prefork processes), twice over (the
   first run also warms the page cache): light curves/s per run, per core, and the 2-vs-1 ratio of
   each setting's faster run.
6. One training run on the pool's labels (``training_run_execute``, no rescoring), then rescoring
   every candidate (``rescore_async``: a chord of ``score_chunk`` tasks and ``rescore_finish``,
   which rebuilds the queue and ANALYZEs) with a real Celery worker at ``--concurrency 1`` and
   then ``2``; the predictions are deleted between the two so both runs insert.
7. Pages over HTTP as deployed: nginx with ``docker/nginx/vetting.conf.template`` in front of
   gunicorn started with ``docker/gunicorn.conf.py`` (3 gthread workers x 4 threads; ``--bare``:
   gunicorn alone): the queue page and candidate pages alone (one client, sequential), then under
   ``--vetters`` simulated vetters (``bench_load.vetter_loop``: queue page, a candidate page, a
   label POST, sometimes ``/api/queue/``, ``--think-s`` mean pause), who start at random moments
   within ``--ramp-s`` seconds: p50/p95 per page. Afterwards the vetters and their labels are
   deleted again (a kept database then measures the same on every run).
8. Disk: ``pg_database_size`` and the main tables' ``pg_total_relation_size`` per candidate, plus
   light-curve bytes per candidate.

Targets (2-core machine): light-curve processing >= 1.7x from 1 to 2 worker processes; every
candidate rescored and the queue rebuilt < 5 minutes; queue page p95 < 150 ms under 20 vetters.
Printed as PASS/FAIL lines; the exit code is 0 unless a step fails outright. Wall-clock figures
depend on what else runs on the machine: the load average is printed with them.

Usage: ``.venv/bin/python bench/bench_scale.py [--quick] [--candidates 1000000] [--keep]``

Building the data once and measuring many times: ``--database NAME`` names the database (created
and kept if it does not exist; reused, never dropped, if it does) and keeps the media of its
light curves in ``<tmp>/bench-scale-NAME/`` beside it; ``--steps`` runs only some steps (step 1,
migrating, always runs). E.g. build ``--database scale_1m --steps 2-4,6 --rescore-processes 2``,
then measure ``--database scale_1m --steps 7``; ``--app-dir`` serves step 7 from another checkout
(e.g. a worktree of main) so the same client and database compare two versions of the site.
"""
from __future__ import annotations

import csv
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from _common import (
    REPO,
    Stopwatch,
    Table,
    bench_parser,
    database_server,
    django_env,
    login_session,
    percentile,
    stop_process,
    throwaway_database,
)

PY = sys.executable
TERMINAL = ("finished", "failed")


def load_average() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def main() -> int:
    parser = bench_parser(__doc__, quick="50,000 candidates, 40 light curves processed per run, 15 s of load")
    parser.add_argument("--candidates", type=int, default=1_000_000)
    parser.add_argument("--pool", type=int, default=300, help="demo candidates with light curves and labels")
    parser.add_argument("--labels", type=int, default=200, help="seed labels of the demo pool")
    parser.add_argument("--lc-share", type=float, default=0.015, help="share of candidates with a light curve")
    parser.add_argument("--lc-sample", type=int, default=400, help="light curves processed per worker run")
    parser.add_argument("--vetters", type=int, default=20)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load with --vetters")
    parser.add_argument("--think-s", type=float, default=2.0, help="mean pause of a vetter after each request")
    parser.add_argument("--ramp-s", type=float, default=8.0,
                        help="vetters start at random moments within this many seconds (about one round of "
                             "a vetter's four requests and pauses); 0 starts all 20 in the same instant")
    parser.add_argument("--alone", type=int, default=40, help="requests per page with one client")
    parser.add_argument("--keep", action="store_true", help="keep the database (drop it by hand)")
    parser.add_argument("--database", default=None,
                        help="database name: created and kept if missing, reused and never dropped if present")
    parser.add_argument("--steps", type=parse_steps, default=parse_steps("1-8"),
                        help="steps to run, e.g. '7' or '2-4,6' (step 1 always runs)")
    parser.add_argument("--rescore-processes", default="1,2", help="worker processes of each rescoring run (step 6)")
    parser.add_argument("--bare", action="store_true",
                        help="step 7: clients talk to gunicorn directly, not through nginx as deployed")
    parser.add_argument("--app-dir", type=Path, default=None,
                        help="checkout that gunicorn serves in step 7 (default: this one)")
    args = parser.parse_args()
    if args.quick:
        args.candidates, args.pool, args.labels, args.lc_sample = 50_000, 120, 90, 40
        args.duration, args.alone = 15.0, 20
    session = f"benchscale{os.getpid()}"
    if args.database:
        # A kept database's files (light curves, model artifacts) live in the media folder of the
        # run that wrote them: the session (hence MEDIA_ROOT) is named after the database.
        session = f"benchscale_{args.database}"
        var_dir = Path(tempfile.gettempdir()) / f"bench-scale-{args.database}"
        var_dir.mkdir(exist_ok=True)
        database = kept_database(args.database)
    else:
        var_dir = Path(tempfile.mkdtemp(prefix="bench-scale-"))
        database = throwaway_database(f"bench_scale_{os.getpid()}", keep=args.keep)
    print(f"cores visible: {os.cpu_count()}; load average at start: {load_average()}; logs in {var_dir}; "
          f"steps {','.join(map(str, sorted(args.steps)))}", flush=True)
    with database as db_url:
        env = {**os.environ, **django_env(db_url, "vetting.settings.test"), "VETTING_TEST_SESSION": session,
               "VETTING_VAR_DIR": str(var_dir), "PYTHONUNBUFFERED": "1", "VETTING_LOG_LEVEL": "WARNING",
               "VETTING_TEST_CONN_MAX_AGE": "60"}
        os.environ.update(env)
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        return run(args, env, var_dir)


def parse_steps(text: str) -> set[int]:
    """``"2-4,6"`` -> ``{1, 2, 3, 4, 6}`` (step 1, the database and its migrations, always runs)."""
    steps = {1}
    for part in text.split(","):
        first, _, last = part.strip().partition("-")
        steps.update(range(int(first), int(last or first) + 1))
    return steps


@contextmanager
def kept_database(name: str) -> Iterator[str]:
    """The URL of database ``name`` on the bench server, created if missing; never dropped."""
    import psycopg

    server = database_server()
    with psycopg.connect(server, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{name}"')
            print(f"created database {name} (kept: drop it with DROP DATABASE \"{name}\")", flush=True)
        else:
            print(f"reusing database {name}", flush=True)
    yield f"{server.rsplit('/', 1)[0]}/{name}"


# --- 2-4: data ----------------------------------------------------------------------------------

#: Rows per imported table file (a sector's table is of this order; bounds the importer's memory).
TABLE_PART_ROWS = 250_000


def write_toi_table(path: Path, n: int, seed: int = 1, first: int = 0) -> None:
    """A simulated TOI table (NASA Exoplanet Archive columns) of rows ``first`` .. ``first + n - 1``,
    about 1.2 candidates per star."""
    rng = random.Random(seed + first)
    columns = ["toi", "tid", "tfopwg_disp", "pl_orbper", "pl_tranmid", "pl_trandurh", "pl_trandep", "pl_rade",
               "snr", "ra", "dec", "st_tmag", "st_teff", "st_logg", "st_rad"]
    dispositions = ["PC", "PC", "PC", "FP", "KP", "CP", "APC", "FA"]
    with path.open("w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(columns)
        for i in range(first, first + n):
            star = 1_000_000 + int(i / 1.2)
            depth = rng.uniform(100, 20000)
            out.writerow([f"{100000 + i}.01", star, dispositions[i % len(dispositions)], f"{rng.uniform(0.5, 30):.6f}",
                          f"{2459000 + rng.uniform(0, 30):.6f}", f"{rng.uniform(1, 8):.4f}", f"{depth:.1f}",
                          f"{rng.uniform(0.8, 20):.3f}", f"{depth / rng.uniform(20, 200):.2f}",
                          f"{rng.uniform(0, 360):.6f}", f"{rng.uniform(-90, 90):.6f}", f"{rng.uniform(6, 16):.3f}",
                          f"{rng.uniform(3500, 7000):.0f}", f"{rng.uniform(3.5, 5):.3f}", f"{rng.uniform(0.3, 3):.3f}"])


ATTACH_SQL = """
WITH pool AS (
    SELECT row_number() OVER (ORDER BY c.id) - 1 AS k, c.period_days, c.epoch, c.epoch_system, c.duration_hours,
           lc.kind, lc.mission, lc.cadence_s, lc.flux_column, lc.time_system, lc.n_points, lc.source, lc.sha256,
           lc.data
    FROM candidates_candidate c
    JOIN LATERAL (SELECT * FROM candidates_lightcurve l WHERE l.candidate_id = c.id AND l.kind = 'timeseries'
                  ORDER BY l.id LIMIT 1) lc ON true
    WHERE c.source_catalog = 'simulated'),
chosen AS (
    SELECT row_number() OVER (ORDER BY id) - 1 AS r, id, target_id FROM candidates_candidate
    WHERE source_catalog = 'toi' AND id %% %(step)s = 0),
pairs AS (SELECT chosen.*, pool.* FROM chosen JOIN pool ON pool.k = chosen.r %% (SELECT count(*) FROM pool)),
moved AS (
    UPDATE candidates_candidate c SET period_days = p.period_days, epoch = p.epoch, epoch_system = p.epoch_system,
        duration_hours = p.duration_hours
    FROM pairs p WHERE c.id = p.id RETURNING c.id)
INSERT INTO candidates_lightcurve (target_id, candidate_id, kind, mission, cadence_s, flux_column, time_system,
    n_points, source, original_filename, sha256, data, created_at)
SELECT target_id, id, kind, mission, cadence_s, flux_column, time_system, n_points, source, 'bench-scale', sha256,
       data, now()
FROM pairs
"""


def attach_lightcurves(share: float) -> tuple[int, float]:
    """Light curves for ``share`` of the imported candidates (see the module doc); returns
    (rows, mean stored file bytes of the pool)."""
    from django.db import connection

    step = max(1, round(1 / share)) if share > 0 else 10**12
    with connection.cursor() as cursor:
        cursor.execute(ATTACH_SQL, {"step": step})
        rows = cursor.rowcount
    return rows, pool_file_bytes()


def pool_file_bytes() -> float:
    """Mean stored light-curve file bytes of the demo pool (0 without a pool or its files)."""
    from django.core.files.storage import default_storage

    from vetting.candidates.models import LightCurve

    sizes = [default_storage.size(name) for name in
             LightCurve.objects.filter(candidate__source_catalog="simulated", kind="timeseries")
             .values_list("data", flat=True) if default_storage.exists(name)]
    return statistics.mean(sizes) if sizes else 0.0


# --- workers ------------------------------------------------------------------------------------

def start_worker(env: dict, var_dir: Path, name: str, concurrency: int, queues: str) -> subprocess.Popen:
    """A Celery worker (prefork, ``concurrency`` processes) on the bench's broker prefix."""
    log = open(var_dir / f"{name}.log", "w")
    cmd = [PY, "-m", "celery", "-A", "vetting", "worker", "-P", "prefork", "--concurrency", str(concurrency),
           "-Q", queues, "-n", f"{name}@{env['VETTING_TEST_SESSION']}", "--without-heartbeat", "--without-mingle",
           "--without-gossip", "-l", "WARNING"]
    return subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def children_cpu() -> float:
    """CPU seconds (user + system) of this process's finished and waited-for descendants."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def stop(proc: subprocess.Popen) -> None:
    stop_process(proc, timeout=30)


def wait_worker(env: dict, name: str, timeout: float = 90.0) -> None:
    from vetting.celery import app

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        replies = app.control.ping(destination=[f"{name}@{env['VETTING_TEST_SESSION']}"], timeout=1.0) or []
        if replies:
            return
        time.sleep(0.5)
    raise RuntimeError(f"worker {name} did not answer within {timeout} s")


def process_lightcurves(env: dict, var_dir: Path, ids: list[int], concurrency: int) -> tuple[float, dict]:
    """Seconds for a products job over ``ids`` run by one worker with ``concurrency`` processes,
    and the job's outcome with the worker's CPU seconds (start-up included) under ``"cpu"``."""
    from vetting.candidates.import_jobs import products_job_create
    from vetting.candidates.models import Candidate

    # Forget the stored products, so every run computes and writes them (an unchanged product
    # is computed but not written).
    Candidate.objects.filter(pk__in=ids).update(plot_payload=None)
    name = f"lc{concurrency}"
    cpu_before = children_cpu()
    worker = start_worker(env, var_dir, name, concurrency, "default,imports")
    outcome = {}
    try:
        wait_worker(env, name)
        with Stopwatch() as sw:
            job = products_job_create(candidate_ids=ids)
            while True:
                job.refresh_from_db()
                if job.state in TERMINAL:
                    break
                if sw.wall > 3600:
                    raise RuntimeError("products job still running after an hour")
                time.sleep(0.2)
        outcome = {"state": job.state, "counts": job.counts, "errors": (job.errors or [])[:3]}
    finally:
        stop(worker)
    outcome["cpu"] = children_cpu() - cpu_before
    return sw.wall, outcome


def rescore(env: dict, var_dir: Path, version_id: int, concurrency: int) -> float:
    """Seconds from sending the rescoring chord to ``rescore_finish``'s end, ``concurrency`` processes."""
    from vetting.learning.services.rescoring import rescore_async

    name = f"score{concurrency}"
    worker = start_worker(env, var_dir, name, concurrency, "training")
    try:
        wait_worker(env, name)
        with Stopwatch() as sw:
            result = rescore_async(version_id=version_id)
            if result is None:
                raise RuntimeError("the rescoring chord could not be sent")
            result.get(timeout=3600, propagate=True)
        return sw.wall
    finally:
        stop(worker)


def write_paths(version) -> None:
    """One scoring chunk timed in this process as a worker's ``score_chunk`` runs it: design
    matrix and scoring in the featurizer's chunks (``featurize.CHUNK_SIZE`` rows: one native
    thread each, as in a worker; a 5,000-row matrix would be scored with two threads), and its
    predictions written by the ORM path (multi-row INSERT ... ON CONFLICT, 500 per transaction:
    the path before issue 16) and by the COPY path (staging table + one upsert per 2,500), each
    into an empty table, in the same run."""
    import numpy as np
    from django.db import connection, transaction

    from classifier.dataset import scalar_names_from_feature_names
    from classifier.training import score
    from vetting.candidates.models import Candidate
    from vetting.learning.featurize import iter_chunks
    from vetting.learning.models import Prediction
    from vetting.learning.services import artifacts, rescoring

    ids = list(Candidate.objects.order_by("pk").values_list("pk", flat=True)[:rescoring.SCORE_CHUNK])
    model = artifacts.load_model(version)
    with Stopwatch() as feat:
        matrices = list(iter_chunks(ids, scalar_names=scalar_names_from_feature_names(version.feature_names)))
    with Stopwatch() as scoring:
        rows = []
        for matrix in matrices:
            scores = score(model, matrix.X.astype(np.float64))
            rows += [Prediction(candidate_id=int(cid), classifier_version_id=version.pk, **fields)
                     for cid, fields in zip(matrix.candidate_ids.tolist(), rescoring._prediction_fields(scores))]
    times = {}
    for method, batch in (("orm", rescoring.PREDICTION_WRITE_BATCH), ("copy", rescoring.PREDICTION_COPY_BATCH)):
        with connection.cursor() as cursor:
            cursor.execute("TRUNCATE learning_prediction")
        with Stopwatch() as sw:
            for start in range(0, len(rows), batch):
                with transaction.atomic():
                    (rescoring.predictions_copy if method == "copy" else rescoring.predictions_bulk_create)(
                        rows[start:start + batch])
        times[method] = sw.wall
    n = len(rows)
    print(f"  one chunk of {n} in-process: design matrix {feat.wall:.2f} s, scoring {scoring.wall:.2f} s, "
          f"write ORM {times['orm']:.2f} s ({n / times['orm']:,.0f}/s) vs COPY {times['copy']:.2f} s "
          f"({n / times['copy']:,.0f}/s) = {times['orm'] / times['copy']:.1f}x  [load {load_average()}]", flush=True)


# --- pages --------------------------------------------------------------------------------------

def make_vetters(n: int) -> list[dict]:
    """Vetters with a site session and an API token (as bench_load's seed script makes them)."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from rest_framework.authtoken.models import Token

    out = []
    for i in range(n):
        # A name per run: on a kept database every run starts with vetters who labeled nothing.
        user = get_user_model().objects.create_user(f"scale-vetter-{os.getpid()}-{i}", password=f"scale-pass-{i}")
        user.groups.add(Group.objects.get(name="vetter"))
        out.append({"id": user.pk, "token": Token.objects.create(user=user).key, "session": login_session(user)})
    return out


def forget_vetters(vetters: list[dict]) -> int:
    """Delete what the load's vetters wrote (their labels, assignments, tokens and accounts) and
    recompute the touched candidates' consensus: a kept database then measures the same on every
    run, and its next training run (step 6) does not learn the load's random labels. The bench's
    own throwaway accounts only; returns the labels removed."""
    from django.contrib.auth import get_user_model

    from vetting.reviews.models import Assignment, Label
    from vetting.reviews.services import consensus_recompute_many

    ids = [v["id"] for v in vetters]
    labels = Label.objects.filter(vetter_id__in=ids)
    touched = sorted(set(labels.values_list("candidate_id", flat=True)))
    removed, _ = labels.delete()
    Assignment.objects.filter(vetter_id__in=ids).delete()
    get_user_model().objects.filter(pk__in=ids).delete()
    consensus_recompute_many(candidate_ids=touched)
    return removed


def cpu_seconds(*, group: int | None = None, cmdline_has: str | None = None) -> float:
    """CPU seconds (user + system, from ``/proc``) of the live processes in process group
    ``group`` or whose command line contains ``cmdline_has`` (e.g. the PostgreSQL backends of
    one database, ``postgres: 15/main: postgres <db> ...``); 0 where ``/proc`` is missing."""
    total, tick = 0.0, os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            stat = (entry / "stat").read_text()
            fields = stat[stat.rindex(")") + 2:].split()
            if group is not None and int(fields[2]) != group:
                continue
            if cmdline_has is not None and cmdline_has not in (entry / "cmdline").read_bytes().decode(errors="replace"):
                continue
            total += (int(fields[11]) + int(fields[12])) / tick
        except (OSError, ValueError, IndexError):
            continue
    return total


@contextmanager
def front(args, var_dir: Path, gunicorn_port: int) -> Iterator[str]:
    """The base URL the clients use: nginx with docker/nginx/vetting.conf.template in front of
    gunicorn, as deployed (``tests/web/edge_stack.start_nginx``), or gunicorn itself with
    ``--bare`` or without an nginx binary.

    The arrangement changes the tail, not only the path: nginx opens a connection to gunicorn
    per request (no upstream keepalive), so the kernel hands each request to whichever gunicorn
    process accepts first; clients talking to gunicorn directly keep their connections, and each
    stays in the process that accepted it, however busy that process gets.
    """
    from bench_load import free_port

    from tests.web import edge_stack

    if args.bare or not edge_stack.nginx_binary():
        print(f"  serving: gunicorn directly ({'--bare' if args.bare else 'no nginx binary'})", flush=True)
        yield f"http://127.0.0.1:{gunicorn_port}"
        return
    port = free_port()
    nginx = edge_stack.start_nginx(var_dir / "nginx", port, f"127.0.0.1:{gunicorn_port}")
    print("  serving: nginx (docker/nginx/vetting.conf.template) in front of gunicorn", flush=True)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        edge_stack.stop(nginx)


def pages(args, env: dict, var_dir: Path, candidate_ids: list[int]) -> dict[str, dict[str, list[float]]]:
    """Latencies (s) per page: one client alone, then ``--vetters`` vetters; gunicorn per
    docker/gunicorn.conf.py, behind nginx unless ``--bare`` (:func:`front`)."""
    import requests
    from bench_load import Recorder, free_port, process, vetter_loop, wait_http

    vetters = make_vetters(args.vetters)
    try:
        port = free_port()
        cmd = [PY, "-m", "gunicorn", "-c", "docker/gunicorn.conf.py", "-b", f"127.0.0.1:{port}", "--keep-alive", "30",
               "--access-logfile", "-"]
        out: dict[str, dict[str, list[float]]] = {}
        app_dir = (args.app_dir or REPO).resolve()
        database = env["DATABASE_URL"].rsplit("/", 1)[1]
        with process(cmd, env, "gunicorn", var_dir, cwd=app_dir) as server, front(args, var_dir, port) as base:
            wait_http(f"{base}/health/", timeout=120)
            site = requests.Session()
            site.cookies.set("sessionid", vetters[0]["session"], domain="127.0.0.1")
            rng = random.Random(3)
            alone: dict[str, list[float]] = {"queue page": [], "candidate page": []}
            for i in range(args.alone + 3):
                for kind, url in (("queue page", f"{base}/candidates/"),
                                  ("candidate page", f"{base}/candidates/{rng.choice(candidate_ids)}/")):
                    started = time.perf_counter()
                    response = site.get(url, timeout=60, allow_redirects=False)
                    if response.status_code != 200:
                        raise RuntimeError(f"{url}: {response.status_code}")
                    if i >= 3:  # 3 warm-up rounds
                        alone[kind].append(time.perf_counter() - started)
            out["alone"] = alone
            rec = Recorder()
            # Who uses the 2 cores during the load: this client (its threads), gunicorn, the
            # database's backends (backends of other databases are not counted).
            cpu = {"client": time.process_time(), "gunicorn": cpu_seconds(group=server.pid),
                   "postgres": cpu_seconds(cmdline_has=f": postgres {database} ")}
            started = time.monotonic()
            deadline = started + args.duration
            threads = [threading.Thread(target=vetter_loop,
                                        args=(base, v, candidate_ids, deadline, rec, i, args.think_s, args.ramp_s))
                       for i, v in enumerate(vetters)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            wall = time.monotonic() - started
            used = {"client": time.process_time() - cpu["client"],
                    "gunicorn": cpu_seconds(group=server.pid) - cpu["gunicorn"],
                    "postgres": cpu_seconds(cmdline_has=f": postgres {database} ") - cpu["postgres"]}
            n_requests = sum(len(v) for v in rec.latency.values())
            print(f"  CPU during {wall:.0f} s of load ({n_requests} requests, {n_requests / wall:.1f}/s): "
                  + ", ".join(f"{k} {v:.1f} s = {v / wall:.2f} cores ({1000 * v / max(n_requests, 1):.0f} ms/request)"
                              for k, v in used.items()) + f"  [load {load_average()}]", flush=True)
            out[f"{args.vetters} vetters"] = dict(rec.latency)
            out["errors"] = {k: v[:3] for k, v in rec.errors.items() if v}
    finally:  # also when the load fails: a kept database must not keep them
        print(f"  the load's {len(vetters)} vetters and their {forget_vetters(vetters)} labels removed", flush=True)
    return out


# --- disk ---------------------------------------------------------------------------------------

DISK_SQL = """
SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind = 'r' ORDER BY 2 DESC LIMIT 6
"""


def disk(n: int) -> tuple[int, list[tuple[str, int]]]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
        cursor.execute("SELECT pg_database_size(current_database())")
        total = cursor.fetchone()[0]
        cursor.execute(DISK_SQL)
        return total, cursor.fetchall()


# --- the run ------------------------------------------------------------------------------------

def run(args, env: dict, var_dir: Path) -> int:
    from django.db import connection

    from vetting.candidates import services as candidate_services
    from vetting.candidates.models import Candidate, LightCurve
    from vetting.learning.models import ClassifierVersion, Prediction, QueueEntry, TrainingRun
    from vetting.learning.services.runs import training_run_execute
    from vetting.reviews.demo import load_demo

    results: list[tuple[str, str]] = []
    checks: list[tuple[str, bool, str]] = []
    steps = args.steps

    def say(name: str, value: str) -> None:
        results.append((name, value))
        print(f"  {name}: {value}  [load {load_average()}]", flush=True)

    if 2 in steps:
        print(f"2. demo pool: {args.pool} simulated candidates with light curves, {args.labels} seed labels",
              flush=True)
        with Stopwatch() as sw:
            load_demo(n=args.pool, labels=args.labels, seed=7, workers=1)
        say("demo pool loaded", f"{sw.wall:.1f} s")

    if 3 in steps:
        n_table = max(0, args.candidates - Candidate.objects.count())
        print(f"3. table import: {n_table:,} TOI rows in files of at most {TABLE_PART_ROWS:,}", flush=True)
        created, n_errors, seconds = 0, 0, 0.0
        for first in range(0, n_table, TABLE_PART_ROWS):
            table = var_dir / f"toi-{first}.csv"
            write_toi_table(table, min(TABLE_PART_ROWS, n_table - first), first=first)
            with Stopwatch() as sw:
                report = candidate_services.import_catalog_file(path=table, table="toi")
            seconds += sw.wall
            created += report.counts.get("candidates_created", 0)
            n_errors += len(report.errors)
            table.unlink()
        say("table import", f"{created:,} candidates in {seconds:.1f} s = {created / max(seconds, 1e-9):,.0f} "
            f"rows/s (import_catalog_file, one process; errors {n_errors})")

    lc_bytes = pool_file_bytes()
    if 4 in steps:
        print(f"4. light curves for {args.lc_share:.1%} of the imported candidates", flush=True)
        with Stopwatch() as sw:
            n_lc, lc_bytes = attach_lightcurves(args.lc_share)
        say("light curves attached", f"{n_lc:,} rows in {sw.wall:.1f} s; mean stored file {lc_bytes / 1e3:.0f} kB")
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")

    if 5 in steps:
        print(f"5. light-curve processing (products job) of {args.lc_sample} candidates, 1 vs 2 worker processes",
              flush=True)
        n_lc = LightCurve.objects.filter(original_filename="bench-scale").count()
        lc_ids = list(LightCurve.objects.filter(source="simulated", original_filename="bench-scale")
                      .order_by("candidate_id").values_list("candidate_id", flat=True)[:args.lc_sample])
        env["VETTING_IMPORT_CHUNK_CANDIDATES"] = str(max(2, len(lc_ids) // 10))
        lc_times: dict[int, list[float]] = {1: [], 2: []}
        lc_cpu: dict[int, list[float]] = {1: [], 2: []}
        # Two rounds of (1, 2): the first run of a session also warms the page cache (files, the
        # database) for the ones after it; the ratio is taken between each setting's faster run.
        for c in (1, 2, 1, 2):
            seconds, job = process_lightcurves(env, var_dir, lc_ids, c)
            lc_times[c].append(seconds)
            lc_cpu[c].append(job["cpu"])
            counts = {k: v for k, v in (job["counts"] or {}).items() if k.startswith(("products", "skipped", "chunks"))}
            say(f"light curves, {c} worker process{'es' if c > 1 else ''}",
                f"{len(lc_ids)} in {seconds:.1f} s = {len(lc_ids) / seconds:.1f}/s, worker CPU {job['cpu']:.0f} s "
                f"(start-up included); job {job['state']} "
                f"{counts}"
                + (f" errors {job['errors']}" if job["errors"] else ""))
        best = {c: min(times) for c, times in lc_times.items()}
        lc_ratio = best[1] / best[2]
        cpu_per_lc = min(lc_cpu[1]) / len(lc_ids)
        say("light curves 2 vs 1 processes", f"runs {lc_times[1][0]:.1f}/{lc_times[2][0]:.1f} s then "
            f"{lc_times[1][1]:.1f}/{lc_times[2][1]:.1f} s: {lc_ratio:.2f}x between the faster runs")
        say("light curves per core", f"{len(lc_ids) / best[1]:.2f}/s wall (1 process); {cpu_per_lc:.2f} worker "
            f"CPU-s each (start-up included) -> {n_lc:,} light curves = {n_lc * cpu_per_lc / 60:.1f} core-minutes")
        checks.append((f"light-curve processing 2 vs 1 worker processes {lc_ratio:.2f}x", lc_ratio >= 1.7, ">= 1.7x"))

    n_all = Candidate.objects.count()
    if 6 in steps:
        print("6. training on the pool's labels, then rescoring every candidate with "
              f"{args.rescore_processes} worker processes", flush=True)
        run_row = TrainingRun.objects.create(trigger=TrainingRun.Trigger.MANUAL)
        with Stopwatch() as sw:
            import vetting.learning.services.training as training_services

            real = training_services.rescoring.rescore_async
            training_services.rescoring.rescore_async = lambda **kw: None  # the bench rescores below, timed
            try:
                outcome = training_run_execute(run_id=run_row.pk, rescore="async")
            finally:
                training_services.rescoring.rescore_async = real
        version = ClassifierVersion.objects.filter(training_run=run_row).first()
        if outcome != "finished" or version is None:
            run_row.refresh_from_db()
            print(f"training run {outcome}: {run_row.error}")
            return 1
        if version.status != ClassifierVersion.Status.PROMOTED:  # the bench needs a version to activate
            ClassifierVersion.objects.filter(pk=version.pk).update(status=ClassifierVersion.Status.PROMOTED)
        say("training run", f"{sw.wall:.1f} s (version {version.name}, status {version.status})")
        write_paths(version)
        rescore_times = {}
        for c in (int(x) for x in args.rescore_processes.split(",")):
            with connection.cursor() as cursor:
                cursor.execute("TRUNCATE learning_prediction")
                cursor.execute("VACUUM ANALYZE learning_prediction")
            seconds = rescore(env, var_dir, version.pk, c)
            rescore_times[c] = seconds
            say(f"rescore + queue rebuild, {c} worker process{'es' if c > 1 else ''}",
                f"{n_all:,} candidates in {seconds:.1f} s = {n_all / seconds:,.0f}/s; predictions "
                f"{Prediction.objects.filter(classifier_version=version).count():,}, "
                f"queue {QueueEntry.objects.count()}")
        if 2 in rescore_times:
            ratio = f" (1 -> 2 processes {rescore_times[1] / rescore_times[2]:.2f}x)" if 1 in rescore_times else ""
            checks.append((f"rescore + queue rebuild with 2 processes {rescore_times[2]:.0f} s{ratio}",
                           rescore_times[2] * 1e6 / n_all < 300, "< 300 s per 1M"))

    if 7 in steps:
        print(f"7. pages over HTTP (gunicorn -c docker/gunicorn.conf.py, {args.app_dir or REPO}): alone, then "
              f"{args.vetters} vetters for {args.duration:.0f} s", flush=True)
        ids = list(Candidate.objects.order_by("?").values_list("pk", flat=True)[:5000])
        latency = pages(args, env, var_dir, ids)
        errors = latency.pop("errors")
        tab = Table(("page", 34), ("requests", 9, "d"), ("p50 ms", 8, ".1f"), ("p95 ms", 8, ".1f"),
                    ("max ms", 8, ".1f"))
        tab.header()
        for setting, kinds in latency.items():
            for kind in sorted(kinds):
                ms = [1000 * s for s in kinds[kind]]
                tab.row(f"{kind} ({setting})", len(ms), statistics.median(ms), percentile(ms, 95), max(ms))
        if errors:
            print(f"  errors: {json.dumps(errors)[:600]}")
        queue_p95 = 1000 * percentile(latency[f"{args.vetters} vetters"].get("queue page", []), 95)
        checks.append((f"queue page p95 under {args.vetters} vetters {queue_p95:.0f} ms", queue_p95 < 150, "< 150 ms"))

    if 8 in steps:
        print("8. disk", flush=True)
        total, tables = disk(n_all)
        lc_total = lc_bytes * LightCurve.objects.filter(kind="timeseries").count()
        say("database", f"{total / 1e9:.2f} GB = {total / n_all:,.0f} bytes per candidate; largest tables: "
            + ", ".join(f"{name} {size / 1e6:,.0f} MB" for name, size in tables))
        say("light curves", f"{lc_total / 1e9:.2f} GB = {lc_total / n_all:,.0f} bytes per candidate "
            f"({args.lc_share:.1%} with a light curve, mean file {lc_bytes / 1e3:.0f} kB)")

    print(f"\n== bench_scale: {n_all:,} candidates; load average now {load_average()}")
    for name, value in results:
        print(f"{name:<40} {value}")
    for text, ok, target in checks:
        print(f"{'PASS' if ok else 'FAIL'}: {text} (target {target})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
