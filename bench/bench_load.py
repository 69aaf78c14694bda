"""Load test: 20 vetters labeling and browsing a real server while a retrain runs.

What it does
------------
1. Creates a throwaway PostgreSQL database ``bench_load_<pid>`` (``BENCH_DATABASE_URL``, default
   ``postgres://postgres@127.0.0.1:5432/postgres``), migrates it and loads ``--candidates``
   simulated candidates with ``--seed-labels`` seed labels (``load_demo``); creates
   ``--vetters`` vetters (API tokens and site sessions) and one curator. Dropped at the end.
2. Starts gunicorn on 127.0.0.1 (a free port) and a Celery worker, both on that database and
   on Redis db 9 under a private key prefix (never touching anyone's queues). Database
   connections are kept ``--conn-max-age`` seconds (default 60, as in production; the test
   settings otherwise open one per request).
3. The curator requests a retrain through the API (``POST /api/training-runs/``), and again
   whenever the previous one finished, so training runs during the whole test.
4. ``--vetters`` threads (``requests``) loop for ``--duration`` seconds: open the queue page,
   open a candidate page, POST a label through the API (token auth), sometimes browse
   ``/api/queue/``, pausing ``--think-s`` on average after each. No request starts after the
   deadline (a pause cut short by the deadline used to release every vetter's next requests
   at the same instant: a burst no team produces).
5. Prints throughput, p50/p95/max latency per request kind, errors, and the lost-label check:
   every label the server accepted (201 + id) must be in the database, there must be no human
   label the clients did not get a 201 for, and at most one current label per vetter and
   candidate.

Run::

    .venv/bin/python bench/bench_load.py                    # 60 s, 20 vetters
    .venv/bin/python bench/bench_load.py --duration 20      # quicker

Targets: no errors, no lost labels, p95 < 300 ms.
"""
from __future__ import annotations

import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path

from _common import REPO, Stopwatch, Table, bench_parser, django_env, percentile, stop_process, throwaway_database

PY = sys.executable

SEED_SCRIPT = r"""
import json, os, sys
import django
django.setup()
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.auth.models import Group
from django.contrib.sessions.backends.db import SessionStore
from django.core.management import call_command
from rest_framework.authtoken.models import Token
from vetting.candidates.models import Candidate
from vetting.reviews.demo import load_demo

call_command("migrate", verbosity=0)
load_demo(n=int(os.environ["BENCH_N"]), labels=int(os.environ["BENCH_SEED_LABELS"]), seed=7)
User = get_user_model()

def make(username, role):
    user = User.objects.create_user(username, password="bench-pass-" + username, is_staff=role == "curator")
    user.groups.add(Group.objects.get(name=role))
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return {"id": user.pk, "username": username, "token": Token.objects.create(user=user).key,
            "session": session.session_key}

users = [make(f"bench-vetter-{i}", "vetter") for i in range(int(os.environ["BENCH_VETTERS"]))]
curator = make("bench-curator", "curator")
ids = list(Candidate.objects.values_list("pk", flat=True))
print(json.dumps({"vetters": users, "curator": curator, "candidate_ids": ids}))
"""

CHECK_SQL = {
    "human_labels": "SELECT id FROM reviews_label WHERE source = 'human' AND vetter_id = ANY(%s)",
    "duplicate_current": (
        "SELECT count(*) FROM (SELECT candidate_id, vetter_id FROM reviews_label "
        "WHERE source = 'human' AND is_current GROUP BY 1, 2 HAVING count(*) > 1) d"
    ),
    "runs": "SELECT state, count(*) FROM learning_trainingrun GROUP BY state",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def process(cmd: list[str], env: dict, name: str, log_dir: Path, cwd: Path = REPO):
    """Start a subprocess in its own process group (in ``cwd``); stop it (TERM, then KILL) afterwards."""
    log = open(log_dir / f"{name}.log", "w")
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield proc
    finally:
        stop_process(proc, timeout=20)
        log.close()


def wait_http(url: str, timeout: float = 60.0) -> None:
    import requests

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=2).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer within {timeout} s")


class Recorder:
    """Latencies and outcomes per request kind (thread-safe)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.latency = defaultdict(list)
        self.errors = defaultdict(list)
        self.accepted_labels: list[int] = []

    def record(self, kind: str, seconds: float, ok: bool, detail: str = "") -> None:
        with self.lock:
            self.latency[kind].append(seconds)
            if not ok:
                self.errors[kind].append(detail[:200])


def vetter_loop(base: str, user: dict, candidate_ids: list[int], deadline: float, rec: Recorder, seed: int,
                think_s: float = 0.0, start_within_s: float = 0.0) -> None:
    """One vetter: queue page, a candidate page, a label, sometimes the API queue; repeat.

    ``think_s`` is the mean pause (exponential) after each action, like a person reading the
    page; 0 makes a closed loop that only measures the saturated server. ``start_within_s``:
    the vetter starts at a random moment in that many seconds (0: at once, all vetters together).
    """
    import requests

    rng = random.Random(seed)
    time.sleep(rng.uniform(0.0, start_within_s))
    site = requests.Session()
    site.cookies.set("sessionid", user["session"], domain="127.0.0.1")
    api = requests.Session()
    api.headers["Authorization"] = f"Token {user['token']}"
    classes = ["PC", "EB", "BEB", "V", "IS", "J"]

    def timed(kind, call, expect):
        if time.monotonic() >= deadline:
            return None  # the load window is over: start nothing new
        started = time.perf_counter()
        try:
            response = call()
            ok = response.status_code in expect
            detail = f"{response.status_code} {response.text[:120]}"
        except requests.RequestException as exc:
            response, ok, detail = None, False, f"{type(exc).__name__}: {exc}"
        rec.record(kind, time.perf_counter() - started, ok, detail)
        if think_s > 0:
            time.sleep(min(rng.expovariate(1.0 / think_s), max(0.0, deadline - time.monotonic())))
        return response if ok else None

    while time.monotonic() < deadline:
        timed("queue page", lambda: site.get(f"{base}/candidates/", timeout=30, allow_redirects=False), {200})
        cid = rng.choice(candidate_ids)
        page = f"{base}/candidates/{cid}/"
        timed("candidate page", lambda page=page: site.get(page, timeout=30, allow_redirects=False), {200})
        body = {"candidate": cid, "label_class": rng.choice(classes), "confidence": rng.choice([0.5, 0.75, 1.0])}
        response = timed("label POST (API)", lambda body=body: api.post(f"{base}/api/labels/", json=body, timeout=30),
                         {201})
        if response is not None:
            with rec.lock:
                rec.accepted_labels.append(response.json()["id"])
        if rng.random() < 0.3:
            timed("queue (API)", lambda: api.get(f"{base}/api/queue/", timeout=30), {200})


def retrain_loop(base: str, curator: dict, deadline: float, stats: dict) -> None:
    """Keep a retrain going: request one, poll it, request the next when it finishes."""
    import requests

    api = requests.Session()
    api.headers["Authorization"] = f"Token {curator['token']}"
    run_id = None
    while time.monotonic() < deadline:
        if run_id is None:
            response = api.post(f"{base}/api/training-runs/", timeout=30)
            stats["requests"] += 1
            if response.status_code == 202:
                run_id = response.json()["id"]
        else:
            state = api.get(f"{base}/api/training-runs/{run_id}/", timeout=30).json().get("state")
            stats["states"][run_id] = state
            if state in ("finished", "failed"):
                run_id = None
        time.sleep(1.0)


def main() -> int:
    parser = bench_parser(__doc__, quick="5 vetters for 10 s")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load (default 60)")
    parser.add_argument("--vetters", type=int, default=20)
    parser.add_argument("--no-retrain", action="store_true", help="no retrain during the load (to isolate its cost)")
    parser.add_argument("--think-s", type=float, default=2.0,
                        help="mean pause after each action (s); people take ~30-60 s per label, 0 = closed loop")
    parser.add_argument("--candidates", type=int, default=300)
    parser.add_argument("--seed-labels", type=int, default=100)
    parser.add_argument("--web-workers", type=int, default=3)
    parser.add_argument("--web-threads", type=int, default=4)
    parser.add_argument("--conn-max-age", type=int, default=60,
                        help="seconds the server keeps a database connection (production: 60; 0 = one per request)")
    args = parser.parse_args()
    if args.quick:
        args.duration, args.vetters, args.candidates, args.seed_labels = 10.0, 5, 100, 40

    session = f"benchload{os.getpid()}"
    var_dir = Path(tempfile.mkdtemp(prefix="bench-load-"))
    with throwaway_database(f"bench_load_{os.getpid()}") as db_url:
        # Test settings: DEBUG off, PostgreSQL at TEST_DATABASE_URL, Redis db 9 with a private
        # key prefix (VETTING_TEST_SESSION), generous API throttles; media in a temp dir.
        env = {**os.environ, **django_env(db_url, "vetting.settings.test")}
        env.update({
            "VETTING_TEST_SESSION": session, "VETTING_VAR_DIR": str(var_dir), "PYTHONUNBUFFERED": "1",
            "BENCH_N": str(args.candidates), "BENCH_SEED_LABELS": str(args.seed_labels),
            "BENCH_VETTERS": str(args.vetters), "VETTING_TEST_CONN_MAX_AGE": str(args.conn_max_age),
        })
        print(f"seeding {args.candidates} simulated candidates, {args.vetters} vetters ...", flush=True)
        with Stopwatch() as seeding:
            seeded = subprocess.run([PY, "-c", SEED_SCRIPT], cwd=REPO, env=env, capture_output=True, text=True)
        if seeded.returncode != 0:
            print(seeded.stderr[-4000:], file=sys.stderr)
            return 1
        data = json.loads(seeded.stdout.strip().splitlines()[-1])
        print(f"seeded in {seeding.wall:.1f} s", flush=True)

        port = free_port()
        base = f"http://127.0.0.1:{port}"
        gunicorn = [PY, "-m", "gunicorn", "vetting.wsgi", "-b", f"127.0.0.1:{port}", "-k", "gthread",
                    "-w", str(args.web_workers), "--threads", str(args.web_threads), "--timeout", "60",
                    # Keep idle connections longer than a vetter's pause between requests: with
                    # gunicorn's 2 s default the server closes a pooled connection just as the
                    # client reuses it ("connection reset by peer").
                    "--keep-alive", "30"]
        worker = [PY, "-m", "celery", "-A", "vetting", "worker", "-P", "solo", "-Q", "default,training,imports",
                  "-n", f"{session}@localhost", "--without-heartbeat", "--without-mingle", "--without-gossip",
                  "-l", "WARNING"]
        with process(gunicorn, env, "gunicorn", var_dir), process(worker, env, "worker", var_dir):
            wait_http(f"{base}/health/")
            rec, retrain = Recorder(), {"requests": 0, "states": {}}
            deadline = time.monotonic() + args.duration
            threads = [] if args.no_retrain else [
                threading.Thread(target=retrain_loop, args=(base, data["curator"], deadline, retrain))]
            threads += [
                threading.Thread(target=vetter_loop,
                                 args=(base, user, data["candidate_ids"], deadline, rec, i, args.think_s))
                for i, user in enumerate(data["vetters"])
            ]
            with Stopwatch() as load:
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
            elapsed = load.wall

        # --- Verify: nothing lost, nothing extra, no duplicate current labels -------------------
        import psycopg

        with psycopg.connect(db_url) as conn:
            vetter_ids = [u["id"] for u in data["vetters"]]
            in_db = {row[0] for row in conn.execute(CHECK_SQL["human_labels"], [vetter_ids])}
            duplicates = conn.execute(CHECK_SQL["duplicate_current"]).fetchone()[0]
            runs = dict(conn.execute(CHECK_SQL["runs"]).fetchall())
        accepted = set(rec.accepted_labels)
        lost, extra = accepted - in_db, in_db - accepted

        all_latencies = [s for v in rec.latency.values() for s in v]
        n_errors = sum(len(v) for v in rec.errors.values())
        print(f"\n== bench_load: {args.vetters} vetters, {args.duration:.0f} s, {args.candidates} candidates, "
              f"gunicorn {args.web_workers}x{args.web_threads} threads + 1 Celery worker (solo), 127.0.0.1, "
              f"mean think time {args.think_s:g} s, database connections kept {args.conn_max_age} s")
        table = Table(("kind", 20), ("requests", 9, "d"), ("per s", 8, ".1f"), ("p50 ms", 8, ".1f"),
                      ("p95 ms", 8, ".1f"), ("max ms", 8, ".1f"), ("errors", 7, "d"))
        table.header()
        rows = [(kind, rec.latency[kind], len(rec.errors[kind])) for kind in sorted(rec.latency)]
        for kind, values, errors in rows + [("all", all_latencies, n_errors)]:
            ms = [1000 * v for v in values]
            table.row(kind, len(ms), len(ms) / elapsed, statistics.median(ms), percentile(ms, 95), max(ms), errors)
        print(f"labels accepted (201): {len(accepted)}; human labels by these vetters in the database: {len(in_db)}; "
              f"lost: {len(lost)}; unexpected: {len(extra)}; duplicate current labels: {duplicates}")
        print(f"training runs during the test: requested {retrain['requests']} times; states now {runs}")
        for kind, errs in rec.errors.items():
            for err in errs[:3]:
                print(f"  error [{kind}]: {err}")
        p95 = percentile(all_latencies, 95)
        ok = n_errors == 0 and not lost and not extra and duplicates == 0
        print(f"RESULT: {'PASS' if ok and p95 < 0.300 else 'FAIL'} (errors {n_errors}, lost {len(lost)}, "
              f"p95 {1000 * p95:.0f} ms, target < 300 ms); logs in {var_dir}")
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
