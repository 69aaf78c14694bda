"""Slow clients against the web server: a page's latency while connections trickle their headers in.

Two arrangements on loopback ports, with the production settings:

1. ``bare gunicorn``: the command the Docker image used before issue 12 (``gunicorn vetting.wsgi
   --workers 3``, sync workers, exposed directly; given the ``collectstatic`` it then needed by
   hand), the baseline;
2. ``nginx + gunicorn``: the documented production stack (``gunicorn -c docker/gunicorn.conf.py``
   behind Debian's nginx with ``docker/nginx/vetting.conf.template``).

For each, ``--slow`` clients each open a connection and send a request's headers at 1 byte/s;
meanwhile a client requests the login page (no database read: the figure is the server's
availability) ``--requests`` times in a row, each with a ``--timeout`` s limit, and the script
prints p50 and max latency and how many timed out. Target: with the documented stack every
request answers within 2 s however many slow clients are open (``tests/web/test_edge.py``
asserts the same for a vetter's ``/api/queue/``). Needs Redis on 127.0.0.1:6379 (database 9,
a key prefix of its own) and nginx (skips without it).

Usage: ``.venv/bin/python bench/bench_slow_clients.py [--slow 3,24] [--requests 10]``.
"""
from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from _common import REPO, Table, bench_parser, percentile

from tests.web import edge_stack

HEADERS = b"GET /accounts/login/ HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"x" * 120 + b"\r\n\r\n"


def _trickle(port: int, stop: threading.Event) -> None:
    """One slow client: a byte a second, until ``stop`` (bounded by the header's length)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            for byte in HEADERS:
                if stop.is_set():
                    return
                sock.sendall(bytes([byte]))
                stop.wait(1.0)
    except OSError:
        pass  # closed by the server (a header timeout)


def _get(port: int, timeout: float) -> float | None:
    """Seconds for GET /accounts/login/ (a complete response), or None after ``timeout``."""
    started = time.monotonic()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.settimeout(max(0.01, timeout - (time.monotonic() - started)))
            sock.sendall(b"GET /accounts/login/ HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
        if not data.startswith(b"HTTP/1.") or b" 200 " not in data[:16]:
            raise RuntimeError(f"unexpected answer: {data[:200]!r}")
        return time.monotonic() - started
    except TimeoutError:
        return None


def measure(port: int, n_slow: int, n_requests: int, timeout: float) -> list[float | None]:
    stop = threading.Event()
    slow = [threading.Thread(target=_trickle, args=(port, stop)) for _ in range(n_slow)]
    for thread in slow:
        thread.start()
    try:
        time.sleep(2)  # every slow client is connected and part-way through its headers
        return [_get(port, timeout) for _ in range(n_requests)]
    finally:
        stop.set()
        for thread in slow:
            thread.join(timeout=10)


def main() -> int:
    parser = bench_parser(__doc__, "1 and 24 slow clients, 5 requests")
    parser.add_argument("--slow", default="3,24", help="comma-separated numbers of slow clients")
    parser.add_argument("--requests", type=int, default=10)
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds before a request counts as timed out")
    args = parser.parse_args()
    if args.quick:
        args.slow, args.requests = "1,24", 5
    if not edge_stack.nginx_binary():
        print("SKIP bench_slow_clients: nginx is not installed (Debian package nginx)")
        return 0
    counts = [int(n) for n in args.slow.split(",")]

    with tempfile.TemporaryDirectory(prefix="bench-slow-") as tmp:
        root = Path(tmp)
        env = edge_stack.production_env(
            database_url=f"sqlite:///{root / 'db.sqlite3'}", redis_url="redis://127.0.0.1:6379/9",
            var_dir=root / "var", cache_prefix=f"bench-slow-{uuid.uuid4().hex[:8]}")
        # The baseline needed collectstatic by hand; give it that step so its pages are not 500s.
        subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"], cwd=REPO, env=env,
                       check=True)
        arrangements = {}
        port = edge_stack.free_port()
        bare = edge_stack._spawn([sys.executable, "-m", "gunicorn", "vetting.wsgi", "--bind", f"127.0.0.1:{port}",
                                  "--workers", "3", "--timeout", "60", "--keep-alive", "30"], env, root / "bare.log")
        arrangements["bare gunicorn (3 sync workers)"] = (bare, port, [bare])
        g_port, n_port = edge_stack.free_port(), edge_stack.free_port()
        gunicorn = edge_stack.start_gunicorn({**env, "VETTING_NUM_PROXIES": "1"}, g_port, root / "gunicorn.log")
        arrangements["nginx + gunicorn (documented)"] = (gunicorn, n_port, [gunicorn])

        table = Table(("arrangement", 32), ("slow", 5), ("p50 ms", 8, ".0f"), ("max ms", 8, ".0f"), ("timed out", 10))
        print(f"GET /accounts/login/ x {args.requests} while slow clients send headers at 1 byte/s "
              f"(timeout {args.timeout:.0f} s); target: max < 2000 ms")
        table.header()
        failed = False
        try:
            edge_stack.wait_http(bare, port)
            edge_stack.wait_http(gunicorn, g_port)
            nginx = edge_stack.start_nginx(root / "nginx", n_port, f"127.0.0.1:{g_port}")
            arrangements["nginx + gunicorn (documented)"][2].append(nginx)
            edge_stack.wait_http(nginx, n_port)
            for name, (_, target_port, _) in arrangements.items():
                for n_slow in counts:
                    waits = measure(target_port, n_slow, args.requests, args.timeout)
                    done = [w * 1000 for w in waits if w is not None]
                    timed_out = sum(w is None for w in waits)
                    p50 = percentile(done, 50) if done else float("nan")
                    worst = max(done) if done and not timed_out else args.timeout * 1000
                    ok = timed_out == 0 and worst < 2000
                    failed |= "documented" in name and not ok
                    table.row(name, n_slow, p50, worst, f"{timed_out}/{len(waits)}",
                              note="" if ok else "OVER TARGET")
        finally:
            for _, _, procs in arrangements.values():
                for proc in reversed(procs):
                    edge_stack.stop(proc)
    print("FAIL: the documented stack let slow clients delay a request" if failed else "PASS (documented stack)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
