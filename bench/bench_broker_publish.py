"""Time a task publish (what a web request pays) with Redis up, refusing and hung, before and after.

"after" is ``vetting.core.jobs.send`` (its own connection, socket timeouts of half
``VETTING_BROKER_PUBLISH_TIMEOUT_S``, no retry, no result-backend subscription). The baselines,
in the same run, are what the code did before issue 12: Celery's ``app.send_task`` through the
app's pooled connection with the project's broker settings, with ``retry=False`` (how training
runs were sent) and with Celery's default retry policy (how import jobs were sent). Each case
runs in a fresh Python process (a new Celery app and connection pool), so a case never starts
with a connection another opened. "up" is the local Redis (127.0.0.1:6379, database 9, under a
key prefix of its own that is deleted afterwards); "refused" is a port nobody listens on; "hung"
is a TCP server in this process that accepts connections and never answers.

Target: every "after" publish returns within about 1 s (the budget) in every broker state.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import threading

from _common import REPO, Table, bench_parser, percentile

CHILD = """
    import json, os, sys, time
    import django
    django.setup()
    from celery import current_app
    from vetting.core import jobs

    path, n = sys.argv[1], int(sys.argv[2])
    name = "vetting.candidates.tasks.import_job_run"
    times, sent = [], 0
    for i in range(n):
        started = time.perf_counter()
        try:
            if path == "after":
                ok = jobs.send(name, 0) is not None
            elif path == "before-noretry":
                ok = bool(current_app.send_task(name, args=[0], retry=False).id)
            else:
                ok = bool(current_app.send_task(name, args=[0]).id)
        except Exception:
            ok = False
        times.append(time.perf_counter() - started)
        sent += ok
    print(json.dumps({"times": times, "sent": sent}))
"""


class HungServer:
    """Accepts TCP connections on 127.0.0.1 and never answers (a hung Redis)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        self.stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                self.held.append(self.sock.accept()[0])
            except OSError:
                continue

    def close(self) -> None:
        self.stop.set()
        for conn in self.held:
            conn.close()
        self.sock.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_case(url: str, path: str, n: int, prefix: str) -> dict:
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="vetting.settings.test", TEST_REDIS_URL=url,
               VETTING_TEST_SESSION=prefix, PYTHONPATH=str(REPO))
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(CHILD), path, str(n)], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = bench_parser(__doc__, "5 publishes per case, one for the slow hung baselines (default 20 and 2)")
    args = parser.parse_args()
    n, n_slow = (5, 1) if args.quick else (20, 2)
    prefix = f"bench-publish-{os.getpid()}"
    hung = HungServer()
    brokers = {"up": "redis://127.0.0.1:6379/9", "refused": f"redis://127.0.0.1:{free_port()}/0",
               "hung": f"redis://127.0.0.1:{hung.port}/0"}
    table = Table(("broker / path", 26), ("n", 4), ("sent", 5), ("first s", 8, ".3f"), ("p50 s", 8, ".3f"),
                  ("max s", 8, ".3f"))
    # The first publish of a process also loads Celery's and kombu's Redis modules (a web server
    # pays that once per process, broker or not); p50 and max are of the calls after it.
    table.header(note="wall seconds per publish; p50/max exclude the first call of the process")
    worst_after = 0.0
    try:
        for broker, url in brokers.items():
            for path in ("before-retry", "before-noretry", "after"):
                runs = n_slow if broker == "hung" and path != "after" else n
                result = run_case(url, path, runs, prefix)
                first, rest = result["times"][0], result["times"][1:] or result["times"]
                table.row(f"{broker} / {path}", runs, result["sent"], first, percentile(rest, 50), max(rest))
                if path == "after":
                    worst_after = max(worst_after, max(rest))
    finally:
        hung.close()
        try:
            import redis

            client = redis.Redis.from_url(brokers["up"], socket_timeout=2)
            keys = list(client.scan_iter(f"{prefix}:*"))
            if keys:
                client.delete(*keys)
        except Exception as exc:  # cleaning up is best effort: the keys carry the bench's own prefix
            print(f"note: could not delete the bench's Redis keys ({exc})")
    budget = 1.0  # VETTING_BROKER_PUBLISH_TIMEOUT_S's default, which the children use
    verdict = "PASS" if worst_after <= budget * 1.2 else "FAIL"
    print(f"worst 'after' publish after the first: {worst_after:.3f} s "
          f"(target about {budget:.1f} s: <= {budget * 1.2:.1f} s) {verdict}")
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
