"""Test suite: PostgreSQL and Redis over real connections (``make test`` starts them if needed)."""
from .base import *
from .base import CACHES, DATABASES, REST_FRAMEWORK, VAR_DIR, dj_database_url, os

SECRET_KEY = "test-only-key"
DEBUG = False
ALLOWED_HOSTS = ["*"]
# One connection per request in the suite (no session outlives a test); a server started with
# these settings (bench/bench_load.py) sets VETTING_TEST_CONN_MAX_AGE to keep connections as
# production does (base settings: 60 s).
_CONN_MAX_AGE = int(os.environ.get("VETTING_TEST_CONN_MAX_AGE", "0"))
DATABASES["default"] = dj_database_url.parse(
    os.environ.get("TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/vetting"), conn_max_age=_CONN_MAX_AGE,
    conn_health_checks=_CONN_MAX_AGE > 0,
)
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast logins in tests
REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_THROTTLE_RATES": {"anon": "1000/minute", "user": "100000/minute", "login": "1000/minute"},
}

# A Redis database of its own, so the suite never touches a development queue.
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/9")
CELERY_BROKER_URL = CELERY_RESULT_BACKEND = REDIS_URL
# Several test sessions may run at once on one machine (developers, CI, and the suite's own
# pytest-xdist processes gw0, gw1, ...): each gets its own test database, broker key prefix and
# media folder; a worker subprocess inherits all three via the env.
_SESSION = os.environ.setdefault("VETTING_TEST_SESSION", f"s{os.getpid()}") + os.environ.get("PYTEST_XDIST_WORKER", "")
DATABASES["default"]["TEST"] = {"NAME": f"test_vetting_{_SESSION}"}
MEDIA_ROOT = VAR_DIR / "test-media" / _SESSION
VETTING_ARTIFACT_DIR = MEDIA_ROOT / "models"
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": 3600, "socket_connect_timeout": 2, "socket_timeout": 5,
    "global_keyprefix": f"{_SESSION}:",
}
# The shared cache (login and API throttles) in the test Redis, under the session's own prefix
# (its clear() deletes only that prefix, so concurrent sessions never clear each other's keys).
CACHES = {"default": {**CACHES["default"], "LOCATION": REDIS_URL, "KEY_PREFIX": f"{_SESSION}:cache"}}

# Test-only: a worker started by tests/learning/test_worker.py's fault test sleeps this many
# seconds before each training step, so the test can kill it mid-run. Read from the environment
# because that worker is a subprocess; the production code knows nothing of it: only when it is
# set does the worker import tests.learning.slow_steps, which wraps the step function.
VETTING_TRAINING_STEP_DELAY_S = float(os.environ.get("VETTING_TRAINING_STEP_DELAY_S", "0"))
if VETTING_TRAINING_STEP_DELAY_S > 0:
    CELERY_IMPORTS = ["tests.learning.slow_steps"]
