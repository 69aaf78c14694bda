"""The production stack under attack (issue 12, defects 2, 3 and 11), tested on real processes.

Two production web servers (the README's command, ``gunicorn -c docker/gunicorn.conf.py``, with
the production settings) share the test PostgreSQL database and the test Redis; nginx with the
project's server block (``docker/nginx/vetting.conf.template``) stands in front of the first:

- login attempts on the site login and the admin login, and the API rate limits, are counted
  once across both processes (defect 2: each process used to count its own, and the admin
  login not at all);
- clients sending their headers or bodies at 1 byte/s hold nginx connections, not gunicorn
  threads: a vetter's request is still answered fast (defect 3: 13 s with bare gunicorn);
- the production command serves pages and static files from an empty ``VETTING_VAR_DIR``,
  without a manual ``collectstatic`` (defect 11: every page was a 500).

nginx comes from Debian (``.ci/ensure-services`` installs it); without it the nginx test skips
with a message.
"""
from __future__ import annotations

import re
import socket
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
import requests

from tests.web import edge_stack

# django_db: makes pytest-django create the test database the servers use (the tests themselves
# only talk HTTP; the module fixture commits its users outside any test transaction).
pytestmark = [pytest.mark.slow, pytest.mark.django_db]

PASSWORD = "edge-Correct-horse-42"
#: Rates the two servers run with (VETTING_API_*_RATE), small enough to reach in a test.
ANON_PER_MIN, USER_PER_MIN = 10, 20


@dataclass
class Stack:
    a: int  # port of server A (production command's defaults: 3 workers x 4 threads)
    b: int  # port of server B (1 worker)
    nginx: int | None  # nginx in front of A (None: nginx not installed)
    var_dir_a: object
    tokens: dict


@pytest.fixture(scope="module")
def stack(django_db_setup, django_db_blocker, tmp_path_factory):
    from django.conf import settings
    from django.db import connection
    from rest_framework.authtoken.models import Token

    from vetting.core.accounts import user_upsert_with_role
    from vetting.core.roles import ROLES, ensure_role_groups

    names = {"vetter": "edge-vetter", "admin": "edge-admin", "script": "edge-script"}
    with django_db_blocker.unblock():
        from django.contrib.auth.models import Group

        if Group.objects.filter(name__in=ROLES).count() < len(ROLES):
            ensure_role_groups()
        tokens = {}
        for key, username in names.items():
            user, _ = user_upsert_with_role(username=username, role="admin" if key == "admin" else "vetter",
                                            password=PASSWORD)
            tokens[key] = Token.objects.get_or_create(user=user)[0].key
        db = connection.settings_dict
    database_url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"

    root = tmp_path_factory.mktemp("edge")
    var_a, var_b = root / "var-a", root / "var-b"  # empty: nobody ran collectstatic
    common = {"database_url": database_url, "redis_url": settings.REDIS_URL,
              "cache_prefix": f"edge-{uuid.uuid4().hex[:12]}", "VETTING_NUM_PROXIES": "1",
              "VETTING_API_ANON_RATE": f"{ANON_PER_MIN}/minute", "VETTING_API_USER_RATE": f"{USER_PER_MIN}/minute"}
    port_a, port_b = edge_stack.free_port(), edge_stack.free_port()
    procs = []
    try:
        procs.append(server_a := edge_stack.start_gunicorn(
            edge_stack.production_env(var_dir=var_a, **common), port_a, root / "a.log"))
        procs.append(server_b := edge_stack.start_gunicorn(
            edge_stack.production_env(var_dir=var_b, **common), port_b, root / "b.log", "--workers", "1"))
        edge_stack.wait_http(server_a, port_a)
        edge_stack.wait_http(server_b, port_b)
        nginx_port = None
        if edge_stack.nginx_binary():
            nginx_port = edge_stack.free_port()
            procs.append(nginx := edge_stack.start_nginx(root / "nginx", nginx_port, f"127.0.0.1:{port_a}"))
            edge_stack.wait_http(nginx, nginx_port)
        yield Stack(port_a, port_b, nginx_port, var_a, tokens)
    finally:
        for proc in reversed(procs):
            edge_stack.stop(proc)
        with django_db_blocker.unblock():
            from django.contrib.auth import get_user_model

            get_user_model().objects.filter(username__in=names.values()).delete()


def _url(port: int, path: str) -> str:
    return f"http://127.0.0.1:{port}{path}"


# --- defect 11: static files without a manual step ---------------------------------------------

def test_production_command_serves_pages_and_static_files_without_manual_collectstatic(stack):
    page = requests.get(_url(stack.a, "/accounts/login/"), timeout=10)
    assert page.status_code == 200, page.text[:500]
    assets = re.findall(r'(?:href|src)="(/static/[^"]+)"', page.text)
    assert assets, "the login page links no static file"
    for asset in assets:
        response = requests.get(_url(stack.a, asset), timeout=10)
        assert response.status_code == 200, asset
    assert (stack.var_dir_a / "staticfiles" / "staticfiles.json").exists()  # the hashed manifest


# --- defect 2: throttles shared by all processes ----------------------------------------------

def _csrf(port: int) -> tuple[str, str]:
    """(cookie secret, form token) of a login page (the cookie is Secure: sent by hand over HTTP)."""
    page = requests.get(_url(port, "/accounts/login/"), timeout=10)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    return page.cookies["csrftoken"], token


def _login(port: int, path: str, password: str, csrf: tuple[str, str]) -> requests.Response:
    cookie, token = csrf
    return requests.post(_url(port, path), data={"username": "edge-admin", "password": password,
                                                  "csrfmiddlewaretoken": token},
                         headers={"Cookie": f"csrftoken={cookie}"}, allow_redirects=False, timeout=10)


def test_login_lockout_counts_site_and_admin_logins_across_processes(stack):
    csrf = _csrf(stack.a)
    targets = [(stack.a, "/accounts/login/"), (stack.b, "/admin/login/"),
               (stack.b, "/accounts/login/"), (stack.a, "/admin/login/")]
    for i in range(10):  # 10 wrong passwords, spread over both processes and both login pages
        port, path = targets[i % len(targets)]
        assert _login(port, path, "wrong-password", csrf).status_code == 200, (port, path)
    for port, path in targets:  # now even the right password is refused, everywhere
        response = _login(port, path, PASSWORD, csrf)
        assert response.status_code == 429, (port, path, response.status_code)
        assert "Too many failed attempts" in response.text
        assert "sessionid" not in response.cookies


def test_api_rate_limits_are_counted_across_processes(stack):
    def me(i: int) -> int:
        port = (stack.a, stack.b)[i % 2]
        return requests.get(_url(port, "/api/me/"), headers={"Authorization": f"Token {stack.tokens['script']}"},
                            timeout=10).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:  # concurrent: counted atomically, none lost
        codes = list(pool.map(me, range(USER_PER_MIN + 10)))
    assert (codes.count(200), codes.count(429)) == (USER_PER_MIN, 10), codes

    anon = [requests.get(_url((stack.a, stack.b)[i % 2], "/api/schema/"), timeout=30) for i in range(ANON_PER_MIN + 4)]
    codes = [r.status_code for r in anon]
    assert (codes.count(200), codes.count(429)) == (ANON_PER_MIN, 4), codes
    assert int(anon[-1].headers["Retry-After"]) > 0
    assert anon[-1].json()["error"]["code"] == "throttled"


# --- defect 3: slow clients ----------------------------------------------------------------------

def _slow_client(port: int, request: bytes, stop: threading.Event, opened: list) -> None:
    """Send ``request`` one byte per second until ``stop`` is set (30 s at most)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            opened.append(sock)
            deadline = time.monotonic() + 30
            for byte in request:
                if stop.is_set() or time.monotonic() > deadline:
                    return
                sock.sendall(bytes([byte]))
                stop.wait(1.0)
    except OSError:
        pass  # the server closed it (its header timeout): fine


def test_slow_clients_do_not_hold_up_a_vetter(stack):
    if stack.nginx is None:
        pytest.skip("nginx is not installed (Debian package nginx; .ci/ensure-services installs it): "
                    "cannot run the production arrangement")
    threads_of_a = 3 * 4  # docker/gunicorn.conf.py: workers x threads
    slow_headers = b"GET /api/queue/ HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"x" * 60 + b"\r\n\r\n"
    slow_body = (b"POST /api/labels/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                 b"Content-Length: 200\r\n\r\n")
    stop, opened = threading.Event(), []
    slow = [threading.Thread(target=_slow_client, args=(stack.nginx, slow_headers, stop, opened))
            for _ in range(threads_of_a)]
    # Slow bodies: the headers arrive at once, then the body trickles in.
    slow += [threading.Thread(target=_slow_client,
                              args=(stack.nginx, slow_body, stop, opened)) for _ in range(threads_of_a)]
    for thread in slow:
        thread.start()
    try:
        time.sleep(3)  # every slow client is connected and part-way through its request
        assert len(opened) == len(slow)
        headers = {"Authorization": f"Token {stack.tokens['vetter']}"}
        waits = []
        for _ in range(5):
            started = time.monotonic()
            response = requests.get(_url(stack.nginx, "/api/queue/?limit=20"), headers=headers, timeout=30)
            waits.append(time.monotonic() - started)
            assert response.status_code == 200, response.text[:300]
        print(f"\nvetter GET /api/queue/ with {len(slow)} slow clients open (1 byte/s): "
              f"max {max(waits) * 1000:.0f} ms over {len(waits)} requests")
        assert max(waits) < 2.0
    finally:
        stop.set()
        for thread in slow:
            thread.join(timeout=10)


def test_long_request_lines_get_the_api_error_body_through_the_production_stack(stack):
    """Issue 12, defect 5 (any byte, any size in any filter): a long query reaches Django and is
    answered by the API; one past nginx's buffers is nginx's 414, still the JSON error body."""
    if stack.nginx is None:
        pytest.skip("nginx is not installed (Debian package nginx; .ci/ensure-services installs it)")
    headers = {"Authorization": f"Token {stack.tokens['vetter']}"}
    long_ok = requests.get(_url(stack.nginx, "/api/candidates/?catalog_id=" + "K" * 9000), headers=headers,
                           timeout=30)
    assert long_ok.headers["Content-Type"].startswith("application/json"), long_ok.text[:200]
    assert long_ok.status_code in (200, 400)
    too_long = requests.get(_url(stack.nginx, "/api/candidates/?catalog_id=" + "K" * 40000), headers=headers,
                            timeout=30)
    assert too_long.status_code == 414
    assert too_long.json()["error"]["code"] == "uri_too_long"
