"""Fault tests: the broker down and back, the database restarted, and /health/ saying so.

The shared PostgreSQL (5432) and Redis (6379) are never touched: each test starts a private
``redis-server`` or PostgreSQL cluster on a free port, and the code under test runs in a child
process whose environment points at it. Skipped with a clear message if the binaries are missing.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PG_BIN = Path(os.environ.get("VETTING_PG_BIN", "/usr/lib/postgresql/15/bin"))
REDIS_SERVER = shutil.which("redis-server")

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


class PrivateRedis:
    """A throwaway redis-server (no persistence) on ``port``; start/stop at will."""

    def __init__(self, port: int):
        self.port, self.proc = port, None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        wait_port(self.port)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self.proc = None


def _child(script: str, env: dict, timeout: float = 120) -> dict:
    """Run ``script`` in a fresh Python with ``env``; it prints one JSON object last."""
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def _test_db_env(redis_url: str) -> dict:
    from django.db import connection

    db = connection.settings_dict
    env = dict(os.environ)
    env.update({
        "DJANGO_SETTINGS_MODULE": "vetting.settings.test",
        "TEST_DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "TEST_REDIS_URL": redis_url,
        "PYTHONUNBUFFERED": "1",
    })
    return env


# --- Redis down ---------------------------------------------------------------------------------

REDIS_DOWN_SCRIPT = """
    import json, os, time
    import django
    django.setup()
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.urls import reverse
    from vetting.learning.models import TrainingRun
    from vetting.learning.services import training_run_request
    from vetting.reviews.models import Label

    vetter = get_user_model().objects.get(username=os.environ["FAULT_VETTER"])
    cid = int(os.environ["FAULT_CANDIDATE"])
    client = Client()
    client.force_login(vetter)
    out = {"queue": client.get(reverse("candidate-queue")).status_code,
           "detail": client.get(reverse("candidate-detail", args=[cid])).status_code}
    response = client.post(reverse("label-create", args=[cid]), {"label_class": "EB", "confidence": "1.0", "stay": "1"})
    out["label_post"] = response.status_code
    out["labels"] = Label.objects.filter(candidate_id=cid, vetter=vetter, is_current=True, label_class="EB").count()
    started = time.perf_counter()
    run = training_run_request(trigger="manual", requested_by=vetter)  # publishes after commit
    out["request_s"] = time.perf_counter() - started
    run.refresh_from_db()
    out["run"] = {"id": run.pk, "state": run.state, "task_id": run.task_id}
    health = client.get("/health/")
    out["health_status"], out["health"] = health.status_code, health.json()
    print(json.dumps(out))
"""

BROKER_BACK_SCRIPT = """
    import json, os
    import django
    django.setup()
    from django.test import Client
    from vetting.learning.models import TrainingRun
    from vetting.learning.services import retrain_if_due

    retrain_if_due(requeue_after_s=0)  # what celery beat runs every few minutes
    run = TrainingRun.objects.get(pk=int(os.environ["FAULT_RUN"]))
    health = Client().get("/health/")
    print(json.dumps({"run": {"state": run.state, "task_id": run.task_id},
                      "health_status": health.status_code, "health": health.json()}))
"""


@pytest.mark.django_db(transaction=True)
def test_redis_down_site_serves_and_training_request_waits_for_the_broker(make_candidate, vetter):
    if not REDIS_SERVER:
        pytest.skip("redis-server not installed: cannot run the broker fault test")
    import redis

    from vetting.learning.models import TrainingRun
    from vetting.reviews.models import Label

    candidate = make_candidate()
    redis_server = PrivateRedis(free_port())  # not started yet: the broker is down
    env = _test_db_env(redis_server.url) | {"FAULT_VETTER": vetter.username, "FAULT_CANDIDATE": str(candidate.pk)}

    down = _child(REDIS_DOWN_SCRIPT, env)
    assert (down["queue"], down["detail"]) == (200, 200)
    assert down["label_post"] == 302 and down["labels"] == 1
    assert Label.objects.filter(candidate=candidate, vetter=vetter, is_current=True).count() == 1
    # Publishing to a dead broker fails fast and the run stays queued, not lost.
    assert down["request_s"] < 10, down["request_s"]
    assert down["run"]["state"] == "queued" and down["run"]["task_id"] == ""
    assert down["health_status"] == 200  # the database answers: the site is up, degraded
    assert down["health"]["status"] == "degraded"
    assert down["health"]["broker"]["ok"] is False and down["health"]["workers"]["ok"] is False
    assert down["health"]["database"]["ok"] is True
    assert down["health"]["training"]["detail"]["queued_runs"] == 1

    redis_server.start()
    try:
        back = _child(BROKER_BACK_SCRIPT, env | {"FAULT_RUN": str(down["run"]["id"])})
        assert back["run"]["state"] == "queued" and back["run"]["task_id"] != ""
        assert back["health"]["broker"]["ok"] is True
        assert back["health"]["workers"]["ok"] is False  # no worker on this private broker
        assert back["health"]["broker_queues"]["detail"]["training"] == 1
        # The message really is on the broker, under the session's key prefix.
        from django.conf import settings

        prefix = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("global_keyprefix", "")
        message = json.loads(redis.Redis.from_url(redis_server.url).lindex(f"{prefix}training", 0))
        assert message["headers"]["task"] == "vetting.learning.tasks.run_training"
        assert message["headers"]["id"] == back["run"]["task_id"]
        assert TrainingRun.objects.count() == 1
    finally:
        redis_server.stop()


# --- PostgreSQL restarted -----------------------------------------------------------------------

class PrivatePostgres:
    """A throwaway PostgreSQL cluster in a temp dir, run as the ``postgres`` user when root."""

    def __init__(self):
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="vetting-pg-", dir="/tmp"))
        self.data = self.dir / "data"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        cmd = list(args)
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=check)

    def init(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        self._run(str(PG_BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")

    def pg_ctl(self, action: str) -> None:
        options = f"-p {self.port} -k /tmp -c listen_addresses=127.0.0.1 -c fsync=off"
        args = [str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-w", "-t", "60"]
        if action in ("stop", "restart"):
            args += ["-m", "fast"]
        self._run(*args, "-o", options, "-l", str(self.dir / "log"), action)

    def createdb(self, name: str) -> str:
        self._run(str(PG_BIN / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name)
        return f"postgres://postgres@127.0.0.1:{self.port}/{name}"

    def destroy(self) -> None:
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop", check=False)
        shutil.rmtree(self.dir, ignore_errors=True)


DB_CHILD_SCRIPT = """
    import json, sys
    import django
    django.setup()
    from django.core.handlers.wsgi import WSGIHandler
    from django.core.management import call_command
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.client import RequestFactory

    call_command("migrate", verbosity=0)
    user = get_user_model().objects.create_user("restart-vetter", password="x")
    login = Client()
    login.force_login(user)
    cookie = f"sessionid={login.cookies['sessionid'].value}"
    # Requests go through the real WSGI handler (as under gunicorn): unlike the test Client it
    # runs close_old_connections on request start, which is where CONN_HEALTH_CHECKS acts.
    app = WSGIHandler()

    def call(path):
        environ = RequestFactory()._base_environ(PATH_INFO=path, REQUEST_METHOD="GET", HTTP_COOKIE=cookie)
        status = {}
        body = b"".join(app(environ, lambda s, h, exc_info=None: status.setdefault("code", int(s.split()[0]))))
        return status["code"], body

    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        command = line.strip()
        if command == "health":
            code, body = call("/health/")
            report = json.loads(body)
            out = {"status": code, "database_ok": report["database"]["ok"], "overall": report["status"]}
        elif command == "page":
            code, _ = call("/candidates/")
            out = {"status": code}
        else:
            break
        out["backend_pid"] = connection.connection.info.backend_pid if connection.connection else None
        print(json.dumps(out), flush=True)
"""


@pytest.mark.skipif(not (PG_BIN / "initdb").exists(), reason=f"PostgreSQL binaries not found in {PG_BIN}")
def test_database_restart_site_recovers_on_next_request_and_health_reports_it():
    pg = PrivatePostgres()
    try:
        pg.init()
        pg.pg_ctl("start")
        url = pg.createdb("vetting_fault")
        env = dict(os.environ)
        # Development settings keep connections open (CONN_MAX_AGE=60, CONN_HEALTH_CHECKS on),
        # which is the case that can go stale across a restart.
        env.update({"DJANGO_SETTINGS_MODULE": "vetting.settings.dev", "DATABASE_URL": url,
                    "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0", "PYTHONUNBUFFERED": "1"})
        child = subprocess.Popen([sys.executable, "-c", textwrap.dedent(DB_CHILD_SCRIPT)], cwd=REPO, env=env,
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

        def ask(command: str) -> dict:
            child.stdin.write(command + "\n")
            child.stdin.flush()
            line = child.stdout.readline()
            assert line, child.stderr.read()[-3000:]
            return json.loads(line)

        try:
            ready = child.stdout.readline()
            assert ready, child.stderr.read()[-3000:]
            before = ask("health")
            assert before["status"] == 200 and before["database_ok"]
            assert ask("page")["status"] == 200

            pg.pg_ctl("restart")
            after = ask("page")  # the very next request works: the dead connection is replaced
            assert after["status"] == 200
            assert after["backend_pid"] != before["backend_pid"]

            pg.pg_ctl("stop")
            down = ask("health")
            assert down["status"] == 503 and down["database_ok"] is False and down["overall"] == "down"

            pg.pg_ctl("start")
            recovered = ask("health")
            assert recovered["status"] == 200 and recovered["database_ok"] is True
            assert ask("page")["status"] == 200
        finally:
            if child.poll() is None:
                child.stdin.close()
                try:
                    child.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    child.kill()
    finally:
        pg.destroy()


@pytest.mark.django_db
def test_health_reports_last_training_run_and_queue_depth(client, make_candidate):
    from vetting.learning.models import QueueEntry, TrainingRun

    body = client.get("/health/").json()
    assert body["training"]["detail"] == {"last_run": None, "queued_runs": 0}
    assert body["queue"]["detail"]["depth"] == 0

    TrainingRun.objects.create(state="finished", trigger="admin")
    TrainingRun.objects.create(state="failed", trigger="threshold", error="not enough classes")
    for strategy in ("uncertainty", "uncertainty", "re-vet"):
        QueueEntry.objects.create(candidate=make_candidate(), priority=1.0, strategy=strategy)
    response = client.get("/health/")
    body = response.json()
    assert response.status_code == 200  # a failed run degrades, it does not take the site down
    assert body["training"]["ok"] is False and body["status"] == "degraded"
    assert body["training"]["detail"]["last_run"]["state"] == "failed"
    assert body["training"]["detail"]["last_run"]["error"] == "not enough classes"
    assert body["queue"]["detail"] == {"depth": 3, "by_strategy": {"uncertainty": 2, "re-vet": 1}}
    assert set(body["broker_queues"]["detail"]) == {"default", "training", "imports"}
