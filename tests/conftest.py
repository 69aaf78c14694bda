"""Fixtures shared by the whole suite."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


def run_python(code: str, timeout: float = 120):
    """Run ``code`` in a fresh interpreter with the test settings (for start-up behaviour that
    this process has already gone through); returns the CompletedProcess (text output)."""
    import subprocess
    import sys

    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "vetting.settings.test"}
    return subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout)


def shared_data_path() -> Path:
    """Folder of real Kepler/TESS data (``VETTING_SHARED_DATA``, default ``../shared/data``)."""
    return Path(os.environ.get("VETTING_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path to the real data; skips the test with a clear message when it is absent."""
    path = shared_data_path()
    if not (path / "README.md").exists():
        pytest.skip(f"real Kepler/TESS data not found at {path} (set VETTING_SHARED_DATA)")
    return path


# --- Django fixtures (only used by tests that ask for them) -----------------------------------

@pytest.fixture(autouse=True)
def _fresh_cache():
    """Each test starts with an empty cache (login-throttle counters live there)."""
    from django.core.cache import cache

    cache.clear()
    yield


@pytest.fixture(autouse=True)
def _role_groups(request):
    """Role groups exist in every database test.

    They come from a data migration, but a ``transactional_db`` test truncates every table
    when it ends, so a later test would find no groups.
    """
    uses_db = request.node.get_closest_marker("django_db") or {"db", "transactional_db"} & set(request.fixturenames)
    if not uses_db:
        return
    request.getfixturevalue("transactional_db" if "transactional_db" in request.fixturenames else "db")
    from django.contrib.auth.models import Group

    from vetting.core.roles import ROLES, ensure_role_groups

    if Group.objects.filter(name__in=ROLES).count() < len(ROLES):
        ensure_role_groups()


def _user_with_role(django_user_model, username: str, role: str | None):
    from django.contrib.auth.models import Group

    user = django_user_model.objects.create_user(username=username, password="pw-" + username)
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def vetter(db, django_user_model):
    return _user_with_role(django_user_model, "vera", "vetter")


@pytest.fixture
def vetter2(db, django_user_model):
    return _user_with_role(django_user_model, "victor", "vetter")


@pytest.fixture
def curator(db, django_user_model):
    return _user_with_role(django_user_model, "carla", "curator")


@pytest.fixture
def admin_user_role(db, django_user_model):
    return _user_with_role(django_user_model, "adam", "admin")


@pytest.fixture
def no_role_user(db, django_user_model):
    return _user_with_role(django_user_model, "nobody", None)


@pytest.fixture
def make_candidate(db):
    """Factory: ``make_candidate(catalog_id="K00001.01", **fields)`` -> Candidate (Kepler target)."""
    from vetting.candidates.models import Candidate, SourceCatalog, Target

    counter = {"n": 0}

    def make(catalog_id: str | None = None, *, mission: str = "kepler", target_id: str | None = None, **fields):
        counter["n"] += 1
        n = counter["n"]
        target, _ = Target.objects.get_or_create(mission=mission, catalog_id=target_id or f"KIC {1000 + n}")
        source = fields.pop("source_catalog", SourceCatalog.KOI)
        defaults = {"period_days": 3.0 + n, "epoch": 130.0, "duration_hours": 3.0, "depth_ppm": 1000.0, "snr": 20.0}
        defaults.update(fields)
        return Candidate.objects.create(
            target=target, source_catalog=source, catalog_id=catalog_id or f"K{n:05d}.01", **defaults
        )

    return make


def wait_until(predicate, timeout: float, what: str, *, state=lambda: "", poll_s: float = 0.3):
    """``predicate()``'s first truthy value, polled until ``timeout`` seconds; else fail, saying
    ``what`` was awaited and ``state()`` (e.g. the job rows) for the reader."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(poll_s)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}; {state()}")


def spawn_celery_worker(*, name: str = "testworker", queues: str = "default,training,imports",
                        extra_env: dict | None = None, extra_args: tuple[str, ...] = ()):
    """Start a real ``celery worker`` process (solo pool) on the test broker and test database.

    ``extra_args`` go to ``celery worker`` (e.g. ``("-I", "tests.candidates.slow_import")``).

    Returns the ``subprocess.Popen`` once the worker answers a ping (60 s at most). It runs in
    its own process group, so :func:`stop_celery_worker` (or ``os.killpg``) reaches it whole.
    """
    import subprocess
    import sys
    import time

    from django.conf import settings
    from django.db import connection

    from vetting.celery import app

    db = connection.settings_dict
    env = dict(os.environ)
    env.update({
        "DJANGO_SETTINGS_MODULE": "vetting.settings.test",
        "TEST_DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "TEST_REDIS_URL": settings.CELERY_BROKER_URL,
        **(extra_env or {}),
    })
    hostname = f"{name}-{os.getpid()}-{time.monotonic_ns()}@localhost"
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "vetting", "worker", "-P", "solo", "-Q", queues,
         "-n", hostname, "--without-heartbeat", "--without-mingle", "--without-gossip", "-l", "WARNING",
         *extra_args],
        cwd=REPO_ROOT, env=env, start_new_session=True,
    )
    proc.hostname = hostname
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"celery worker exited early with code {proc.returncode}")
        if any(hostname in reply for reply in (app.control.ping(timeout=0.5) or [])):
            return proc
    stop_celery_worker(proc, timeout_s=0)
    raise RuntimeError("celery worker did not answer a ping within 60 s")


def stop_celery_worker(proc, *, timeout_s: float = 20) -> None:
    """TERM the worker's process group, then KILL it if it has not exited after ``timeout_s``."""
    import signal
    import subprocess

    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM if timeout_s else signal.SIGKILL)
    try:
        proc.wait(timeout=timeout_s or 10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@pytest.fixture
def celery_worker_process(transactional_db):
    """A real ``celery worker`` process on the test broker and the test database.

    Yields the ``subprocess.Popen``; the worker is stopped (TERM, then KILL) afterwards. Tests
    using it must commit their data (``transactional_db``) so the worker can see it.
    """
    from vetting.celery import app

    app.control.purge()
    proc = spawn_celery_worker()
    yield proc
    stop_celery_worker(proc)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """pytest-django's test database, and at the end no stray session left on it.

    A killed worker or a finished live-server thread can leave a PostgreSQL session open for a
    moment; the drop would then fail and leave ``test_vetting_*`` behind.
    """
    yield
    from django.db import connection

    with django_db_blocker.unblock():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )


def pytest_sessionfinish(session, exitstatus):
    """Remove this session's media folder (``var/test-media/<session>``, test settings): every
    session and xdist process writes its own, so nothing of it is wanted afterwards."""
    import shutil

    from django.conf import settings

    if not settings.configured:
        return
    media = Path(settings.MEDIA_ROOT)
    if media.parent.name == "test-media":
        shutil.rmtree(media, ignore_errors=True)
