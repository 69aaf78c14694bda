"""Settings shared by every environment; everything deployment-specific comes from the environment.

Variables (all optional in development):
``DATABASE_URL`` (default SQLite in ``var/``), ``REDIS_URL`` (broker and result backend),
``DJANGO_SECRET_KEY``, ``DJANGO_ALLOWED_HOSTS`` (comma separated), and the ``VETTING_*``
settings below. Each ``VETTING_*`` setting is declared here once, next to the environment
variable it reads (the README's Configuration table lists them all); code reads them only from
``django.conf.settings``. Test-only knobs live in ``vetting/settings/test.py``.
"""
from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(os.environ.get("VETTING_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool = False) -> bool:
    """Read a boolean environment variable (1/true/yes/on)."""
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    """Read an integer environment variable."""
    return int(os.environ.get(name, default))


def env_float(name: str, default: float) -> float:
    """Read a float environment variable."""
    return float(os.environ.get(name, default))


def env_list(name: str, default: tuple[str, ...] = ()) -> tuple[str, ...]:
    """Read a comma-separated environment variable as a tuple of non-empty stripped items."""
    value = os.environ.get(name)
    if value is None:
        return default
    return tuple(item.strip() for item in value.split(",") if item.strip())


SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
DEBUG = False
ALLOWED_HOSTS = [h for h in os.environ.get("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1").split(",") if h]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI assets served locally, no CDN
    "simple_history",
    "vetting.candidates",
    "vetting.reviews",
    "vetting.learning",
    "vetting.web",
    "api",
    "django_prometheus",  # request latency by view (/metrics; vetting.core.metrics)
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",  # first: times the whole request
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "api.middleware.ApiGuardMiddleware",  # /api/ only: query and body checks, JSON errors (before body readers)
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "vetting.web.middleware.LoginThrottleMiddleware",  # site and admin login, counted in Redis
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "vetting.web.middleware.LoginRequiredMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",  # last: sees the resolved view
]

ROOT_URLCONF = "vetting.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "vetting.web.context_processors.roles",
            ],
        },
    },
]

WSGI_APPLICATION = "vetting.wsgi.application"

DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}", conn_max_age=60, conn_health_checks=True
    )
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # WAL + a busy timeout let the web server and the worker write the same file.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 30, "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"}
    )
    DATABASES["default"]["CONN_MAX_AGE"] = 0
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
MEDIA_URL = "media/"
MEDIA_ROOT = Path(os.environ.get("VETTING_MEDIA_ROOT", VAR_DIR / "media"))
#: Where uploads, light curves, target pixel files and model artifacts are stored: "filesystem"
#: (MEDIA_ROOT on this machine) or "s3" (any S3-compatible store, shared by the web and worker
#: machines; django-storages). S3 credentials come from the standard AWS_ACCESS_KEY_ID /
#: AWS_SECRET_ACCESS_KEY environment variables (never from settings).
VETTING_STORAGE = os.environ.get("VETTING_STORAGE", "filesystem")
#: Bucket, endpoint (e.g. http://minio:9000; empty: AWS) and region of the "s3" storage.
VETTING_S3_BUCKET = os.environ.get("VETTING_S3_BUCKET", "vetting")
VETTING_S3_ENDPOINT_URL = os.environ.get("VETTING_S3_ENDPOINT_URL", "")
VETTING_S3_REGION = os.environ.get("VETTING_S3_REGION", "us-east-1")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
if VETTING_STORAGE == "s3":
    STORAGES["default"] = {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": {
        "bucket_name": VETTING_S3_BUCKET, "endpoint_url": VETTING_S3_ENDPOINT_URL or None,
        "region_name": VETTING_S3_REGION, "addressing_style": "path",
        # Django's rule (a taken name gets a suffix), so two uploads named koi.csv never collide.
        "file_overwrite": False, "default_acl": None, "querystring_auth": True,
    }}
elif VETTING_STORAGE != "filesystem":
    raise ValueError(f"VETTING_STORAGE must be 'filesystem' or 's3', not {VETTING_STORAGE!r}")

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "candidate-queue"
LOGOUT_REDIRECT_URL = "login"

# Uploads: bounded in size, parsed from files on disk, never unpickled.
#: Upload size limit of the API and the admin (vetting.candidates.uploads).
VETTING_MAX_UPLOAD_MB = env_int("VETTING_MAX_UPLOAD_MB", 200)
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")

#: One cache for every web process (login-failure counters, API rate limits, cached counts), in
#: the same Redis: a per-process cache let each gunicorn worker count its own login tries.
#: vetting.core.cache: clear() deletes only KEY_PREFIX keys (never the broker's); a Redis that
#: is down or hung costs at most one short timeout per process every few seconds, never a 500.
#: Prefix of every cache key (several sites, or test runs, may share one Redis database).
VETTING_CACHE_KEY_PREFIX = os.environ.get("VETTING_CACHE_KEY_PREFIX", "vetting-cache")
CACHES = {
    "default": {
        "BACKEND": "vetting.core.cache.ResilientRedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": VETTING_CACHE_KEY_PREFIX,
        "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
    }
}
#: Reverse proxies in front of the web server (docker/nginx/vetting.conf.template: 1). The client address of the
#: login throttle and the API rate limits is then the one the nearest proxy put last in
#: X-Forwarded-For; with 0 it is the connection's address and X-Forwarded-For is ignored.
VETTING_NUM_PROXIES = env_int("VETTING_NUM_PROXIES", 0)

CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = REDIS_URL
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {
    "vetting.learning.tasks.*": {"queue": "training"},
    "vetting.candidates.tasks.*": {"queue": "imports"},
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A publish to a dead broker must fail fast (the page still answers; the row stays queued and beat re-sends it).
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600, "socket_connect_timeout": 2, "socket_timeout": 5}
CELERY_BROKER_CONNECTION_TIMEOUT = 2
# The Redis *result backend* subscribes on every publish and, by default, retries a dead Redis
# 20 times one second apart (about 19 s per request). Two quick retries instead: a publish to a
# dead Redis fails in about a second (tests/web/test_faults.py measures it).
CELERY_REDIS_SOCKET_CONNECT_TIMEOUT = 2
CELERY_REDIS_SOCKET_TIMEOUT = 5
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {
    "retry_policy": {"max_retries": 2, "interval_start": 0, "interval_step": 0.25, "interval_max": 0.5},
}
CELERY_BEAT_SCHEDULE = {
    "retrain-if-due": {"task": "vetting.learning.tasks.retrain_if_due", "schedule": timedelta(minutes=5)},
    "recover-stale-runs": {"task": "vetting.learning.tasks.recover_stale_runs", "schedule": timedelta(minutes=2)},
    "recover-import-jobs": {"task": "vetting.candidates.tasks.import_jobs_recover", "schedule": timedelta(minutes=1)},
    "purge-import-uploads": {"task": "vetting.candidates.tasks.import_uploads_purge", "schedule": timedelta(hours=1)},
}

#: API rate limits ("N/second|minute|hour|day"): anonymous requests per client address and
#: authenticated requests per user, counted across all web processes (api.throttling).
VETTING_API_ANON_RATE = os.environ.get("VETTING_API_ANON_RATE", "60/minute")
VETTING_API_USER_RATE = os.environ.get("VETTING_API_USER_RATE", "6000/minute")
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # Strict query parameters on every list: typed filters never empty, known orderings only (api/filters.py).
    "DEFAULT_FILTER_BACKENDS": ["api.filters.FilterBackend", "api.filters.StrictOrderingFilter"],
    # JSON bodies only (uploads name their own parsers); nested too deep is a 400 (api/parsers.py).
    "DEFAULT_PARSER_CLASSES": ["api.parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 50,
    # Counted atomically in the shared cache (api.throttling), so the limits hold across processes.
    "DEFAULT_THROTTLE_CLASSES": [
        "api.throttling.SharedAnonRateThrottle",
        "api.throttling.SharedUserRateThrottle",
    ],
    "NUM_PROXIES": VETTING_NUM_PROXIES,
    "DEFAULT_THROTTLE_RATES": {"anon": VETTING_API_ANON_RATE, "user": VETTING_API_USER_RATE, "login": "10/minute"},
    "EXCEPTION_HANDLER": "api.exceptions.api_exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Transit vetting API",
    "DESCRIPTION": "Vet Kepler and TESS transit candidates with a classifier in the loop.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Every operation documents its error responses with the one error body (api/schema.py).
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "api.schema.add_error_responses",
                             "api.schema.add_string_constraints"],
    # One schema name per choice set the API shares (label classes, states, kinds).
    "ENUM_NAME_OVERRIDES": {
        "LabelClassEnum": "classifier.vocabulary.CLASSES",
        "TimeSystemEnum": "vetting.candidates.models.TimeSystem",
        "DisputeStatusEnum": "vetting.reviews.models.Dispute.Status",
        "ClassifierVersionStatusEnum": "vetting.learning.models.ClassifierVersion.Status",
        "JobStateEnum": "vetting.candidates.models.ImportJob.State",  # = TrainingRun.State values
        "ImportJobKindEnum": "vetting.candidates.models.ImportJob.Kind",  # what an upload may be
        "ImportJobAnyKindEnum": "vetting.candidates.models.ImportJob.KIND_CHOICES",  # + products jobs
        "LightCurveKindEnum": "vetting.candidates.models.LightCurve.Kind",
    },
}

# --- Domain settings (README: Configuration) ------------------------------------------------
#: Retrain when this many new consensus labels arrived since the last finished run.
VETTING_RETRAIN_EVERY_N_LABELS = env_int("VETTING_RETRAIN_EVERY_N_LABELS", 50)
#: Seconds a label commit's retrain check waits, so a burst of labels sends one check (0: one per label).
VETTING_RETRAIN_CHECK_DELAY_S = env_float("VETTING_RETRAIN_CHECK_DELAY_S", 2.0)
#: Writes catalog dispositions as catalog labels for the candidates importers (which sit below
#: the reviews app and never import it). A dotted path, not an environment variable.
VETTING_CATALOG_LABEL_WRITER = "vetting.reviews.catalog_labels.catalog_labels_bulk_upsert"
#: Dotted path of the light-curve source class (see vetting.candidates.sources).
VETTING_LIGHTCURVE_SOURCE = os.environ.get(
    "VETTING_LIGHTCURVE_SOURCE", "vetting.candidates.sources.MastLightCurveSource"
)
#: Folder of FITS files that ``LocalDirectorySource`` reads (empty: that source is not configured).
VETTING_LIGHTCURVE_DIR = os.environ.get("VETTING_LIGHTCURVE_DIR", "")
#: Dotted path of the target-pixel-file source class (see vetting.candidates.sources).
VETTING_TPF_SOURCE = os.environ.get("VETTING_TPF_SOURCE", "vetting.candidates.sources.MastTargetPixelSource")
#: Where model artifacts are written (immutable files, one per classifier version): a folder of
#: the default storage (a path inside MEDIA_ROOT, or relative to the storage's root, e.g.
#: "models"); a local folder outside MEDIA_ROOT works on "filesystem" storage only.
VETTING_ARTIFACT_DIR = Path(os.environ.get("VETTING_ARTIFACT_DIR", MEDIA_ROOT / "models"))
#: Consensus rule (see vetting.reviews.consensus): "dawid_skene" (each vetter's confusion matrix,
#: fitted by services.reliability_refit) or "weighted_majority"; a curator's label overrides.
#: Two classes closer than tie_margin (posterior or weight share) are a tie: no label, needs review.
VETTING_CONSENSUS = {
    "rule": "dawid_skene",
    "min_labels": 1,
    "curator_overrides": True,
    "weight_by_confidence": True,
    "tie_margin": 0.02,
}
#: Independent vetter labels a candidate needs before it leaves the queues (curators can raise it
#: per candidate or for a filter: services.labels_required_set).
VETTING_LABELS_PER_CANDIDATE = env_int("VETTING_LABELS_PER_CANDIDATE", 2)
#: Adaptive overlap: past the minimum, one more label only while labels disagree or the
#: consensus is less sure than VETTING_OVERLAP_CONFIDENCE, up to VETTING_OVERLAP_MAX_LABELS.
VETTING_OVERLAP_ADAPTIVE = env_bool("VETTING_OVERLAP_ADAPTIVE", True)
VETTING_OVERLAP_CONFIDENCE = env_float("VETTING_OVERLAP_CONFIDENCE", 0.95)
VETTING_OVERLAP_MAX_LABELS = env_int("VETTING_OVERLAP_MAX_LABELS", 5)
#: Seconds a candidate handed to a vetter ("next", /api/queue/) counts against its overlap.
VETTING_ASSIGNMENT_TTL_S = env_int("VETTING_ASSIGNMENT_TTL_S", 1800)
#: Seconds between refits of the vetters' reliability (Dawid-Skene) by Celery beat.
VETTING_RELIABILITY_REFIT_S = env_int("VETTING_RELIABILITY_REFIT_S", 600)
CELERY_BEAT_SCHEDULE["refit-reliability"] = {
    "task": "vetting.reviews.tasks.refit_reliability", "schedule": timedelta(seconds=VETTING_RELIABILITY_REFIT_S)}
#: The model's prediction before a vetter labels: "off" (shown), "blind" (hidden until labeled),
#: "experiment" (hidden on a random half of each vetter's candidates; the team page measures
#: the anchoring effect).
VETTING_BLIND_MODE = os.environ.get("VETTING_BLIND_MODE", "off")
#: Share of each vetter's queue given to known-answer candidates (curator gold, injected signals).
VETTING_KNOWN_ANSWER_SHARE = env_float("VETTING_KNOWN_ANSWER_SHARE", 0.05)
#: Active-learning mix (share of each batch by strategy); diversity spreads each share. The same
#: as classifier.active.DEFAULT_MIX (what the benchmarks measure; a test keeps them equal),
#: written out so loading the settings does not import scikit-learn.
VETTING_QUERY_MIX = {"likely_planet": 0.2, "planet": 0.6, "committee": 0.1, "random": 0.1}
#: Most entries the active-learning queue holds after a rebuild.
VETTING_QUEUE_SIZE = env_int("VETTING_QUEUE_SIZE", 500)
#: Training profile (model families and CV folds; see classifier.training).
VETTING_TRAINING_PROFILE = os.environ.get("VETTING_TRAINING_PROFILE", "fast")
#: Model families to train instead of the profile's, comma separated (empty: the profile's).
VETTING_TRAINING_FAMILIES = env_list("VETTING_TRAINING_FAMILIES")
#: Grouped cross-validation folds of a training run; 0: the profile's (3 for fast, 4 for full:
#: classifier.estimators.PROFILE_CV_FOLDS).
VETTING_TRAINING_CV_FOLDS = env_int("VETTING_TRAINING_CV_FOLDS", 0)
#: Random seed of training and queue selection.
VETTING_TRAINING_SEED = env_int("VETTING_TRAINING_SEED", 20261123)
#: Train on catalog dispositions too (consensus of method "catalog").
VETTING_INCLUDE_CATALOG_LABELS = env_bool("VETTING_INCLUDE_CATALOG_LABELS", False)
#: Most suspected mislabels one training run flags (they go first in the queue).
VETTING_MISLABEL_FLAGS = env_int("VETTING_MISLABEL_FLAGS", 20)
#: A new model is promoted when no metric is worse than the active model's by more than this.
VETTING_PROMOTION_TOLERANCE = env_float("VETTING_PROMOTION_TOLERANCE", 0.01)
#: Seconds between heartbeats of a running training run.
VETTING_TRAINING_HEARTBEAT_S = env_float("VETTING_TRAINING_HEARTBEAT_S", 5.0)
#: Seconds without a heartbeat after which a running run counts as dead (worker lost).
VETTING_TRAINING_STALE_AFTER_S = env_float("VETTING_TRAINING_STALE_AFTER_S", 120.0)
#: Seconds after which the beat tasks re-send a queued run or import job whose task the broker
#: never accepted (no task id: the broker was down when it was requested).
VETTING_REQUEUE_AFTER_S = env_float("VETTING_REQUEUE_AFTER_S", 60.0)
#: Seconds a task publish may block its caller (a web request) at most, roughly: socket
#: timeouts and one retry are derived from it (vetting.core.jobs).
VETTING_BROKER_PUBLISH_TIMEOUT_S = env_float("VETTING_BROKER_PUBLISH_TIMEOUT_S", 1.0)
#: Seconds between heartbeats of a running import job.
VETTING_IMPORT_HEARTBEAT_S = env_float("VETTING_IMPORT_HEARTBEAT_S", 5.0)
#: Seconds without a heartbeat after which a running import job counts as dead (worker lost).
VETTING_IMPORT_STALE_AFTER_S = env_float("VETTING_IMPORT_STALE_AFTER_S", 120.0)
#: Runs of one import job at most: a job whose worker died is re-queued (imports are
#: idempotent) until it has been started this many times, then failed with the reason.
VETTING_IMPORT_MAX_ATTEMPTS = env_int("VETTING_IMPORT_MAX_ATTEMPTS", 3)
#: Rows of a catalog table per import chunk (one Celery task each, spread over the workers).
VETTING_IMPORT_CHUNK_ROWS = env_int("VETTING_IMPORT_CHUNK_ROWS", 5000)
#: Candidates per chunk of a light-curve products job (clean, detrend, fold, metrics, plots).
VETTING_IMPORT_CHUNK_CANDIDATES = env_int("VETTING_IMPORT_CHUNK_CANDIDATES", 200)
#: Seconds a run or import job may wait queued before /health/ reports it as stuck.
VETTING_QUEUED_STUCK_AFTER_S = env_float("VETTING_QUEUED_STUCK_AFTER_S", 900.0)
#: Days the uploaded file of a finished import job is kept (then deleted by a beat task).
VETTING_UPLOAD_RETENTION_DAYS = env_float("VETTING_UPLOAD_RETENTION_DAYS", 7.0)
#: Days the uploaded file of a failed import job is kept, for diagnosis.
VETTING_FAILED_UPLOAD_RETENTION_DAYS = env_float("VETTING_FAILED_UPLOAD_RETENTION_DAYS", 30.0)
#: While rescoring, pause this many times each prediction upsert's duration (0: no pause).
VETTING_RESCORE_YIELD = env_float("VETTING_RESCORE_YIELD", 1.0)
#: CPU priority drop (nice) of Celery workers; 0 keeps the normal priority.
VETTING_WORKER_NICE = env_int("VETTING_WORKER_NICE", 10)
#: Linux scheduling class of Celery workers: "idle" (SCHED_IDLE) or "normal".
VETTING_WORKER_SCHED = os.environ.get("VETTING_WORKER_SCHED", "idle")
#: Native threads (OpenMP, BLAS) per Celery worker process; 0: the cores / the worker's processes.
VETTING_WORKER_THREADS = env_int("VETTING_WORKER_THREADS", 0)
#: Simulated candidates ``manage.py rundemo`` (``make run``) loads.
VETTING_DEMO_SIZE = env_int("VETTING_DEMO_SIZE", 2000)
#: Log format ("plain" or "json") and root log level.
#: Bearer token Prometheus sends to /metrics (Authorization: Bearer ...); empty: staff sessions only.
VETTING_METRICS_TOKEN = os.environ.get("VETTING_METRICS_TOKEN", "")
#: Seconds the domain metrics of /metrics (one query per collector) are cached, shared by workers.
VETTING_METRICS_CACHE_S = env_float("VETTING_METRICS_CACHE_S", 5.0)
#: Headless Chromium that prints vetting reports (PDF/PNG); missing: the report button says so.
VETTING_REPORT_BROWSER = os.environ.get("VETTING_REPORT_BROWSER", "/usr/bin/chromium")
#: Seconds a report rendering may take before it is abandoned.
VETTING_REPORT_TIMEOUT_S = env_float("VETTING_REPORT_TIMEOUT_S", 60.0)
VETTING_LOG_FORMAT = os.environ.get("VETTING_LOG_FORMAT", "plain")
VETTING_LOG_LEVEL = os.environ.get("VETTING_LOG_LEVEL", "INFO")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {"()": "vetting.logging.JsonFormatter"},
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": VETTING_LOG_FORMAT,
        }
    },
    "root": {"handlers": ["console"], "level": VETTING_LOG_LEVEL},
}
