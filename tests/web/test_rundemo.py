"""The README's run command, for real: ``manage.py rundemo`` on SQLite with its own Redis.

It must come up with demo data, a worker answering the health check and the bundled Redis,
and one Ctrl-C (SIGINT) must stop every process it started.
"""
from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time

import pytest
import requests

from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _login(session: requests.Session, base: str, username: str) -> None:
    page = session.get(f"{base}/accounts/login/", timeout=10)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    session.post(f"{base}/accounts/login/", timeout=30, headers={"Referer": f"{base}/accounts/login/"},
                 data={"username": username, "password": f"{username}-demo-pass", "csrfmiddlewaretoken": token})


def test_rundemo_serves_demo_site_with_worker_and_stops_on_one_ctrl_c(tmp_path):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update({"DJANGO_SETTINGS_MODULE": "vetting.settings.dev", "VETTING_VAR_DIR": str(tmp_path)})
    log = open(tmp_path / "rundemo.log", "w+")
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "rundemo", "--port", str(port), "--demo-size", "40"],
        cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        health = None
        staff = requests.Session()  # /health/ shows its details (workers) to staff only
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if "sessionid" not in staff.cookies:
                    _login(staff, base, "curator")  # a demo curator is staff
                health = staff.get(f"{base}/health/", timeout=5).json()
                if health.get("workers", {}).get("ok"):
                    break
            except (requests.RequestException, ValueError, AttributeError):
                pass
            time.sleep(1)
        log.seek(0)
        output = log.read()
        assert health and health["database"]["ok"] and health["broker"]["ok"] and health["workers"]["ok"], output
        assert "demo login (vetter, dev only): vetter / vetter-demo-pass" in output
        redis_port = int(re.search(r"Bundled Redis on 127\.0\.0\.1:(\d+)", output).group(1))

        session = requests.Session()
        login = session.get(f"{base}/accounts/login/", timeout=10)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login.text).group(1)
        queue = session.post(
            f"{base}/accounts/login/",
            data={"username": "curator", "password": "curator-demo-pass", "csrfmiddlewaretoken": token},
            headers={"Referer": f"{base}/accounts/login/"}, timeout=30,
        )
        # The curator has labeled nothing, so the whole demo set is in their queue.
        assert queue.status_code == 200 and "SIM-" in queue.text
    finally:
        os.killpg(proc.pid, signal.SIGINT)  # what one Ctrl-C in the terminal sends
        try:
            code = proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            raise
        log.close()
    assert code == 0
    assert not _port_open(port), "web server still running after Ctrl-C"
    assert not _port_open(redis_port), "bundled Redis still running after Ctrl-C"
