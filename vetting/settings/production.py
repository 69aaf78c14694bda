"""Production: every secret from the environment, secure cookies and headers (``check --deploy``).

Required: ``DJANGO_SECRET_KEY`` (50+ random characters), ``DATABASE_URL``, ``REDIS_URL``,
``DJANGO_ALLOWED_HOSTS``. Optional: ``DJANGO_CSRF_TRUSTED_ORIGINS`` (comma separated, with
scheme), ``DJANGO_SECURE_SSL_REDIRECT`` (off behind a proxy that already redirects),
``DJANGO_HSTS_SECONDS``.
"""
import os

from django.core.exceptions import ImproperlyConfigured

from .base import *
from .base import SECRET_KEY, env_bool, env_int

if not SECRET_KEY:
    raise ImproperlyConfigured(
        "DJANGO_SECRET_KEY must be set in production: there is no default secret. Generate one with "
        "python -c 'import secrets; print(secrets.token_urlsafe(64))'"
    )
if len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5 or SECRET_KEY.startswith("django-insecure"):
    raise ImproperlyConfigured("DJANGO_SECRET_KEY is too short or not random: use 50+ random characters")

DEBUG = False

# --- Cookies: HTTPS only, not readable by scripts (the session), same-site -------------------
SESSION_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = env_int("DJANGO_SESSION_AGE_S", 14 * 24 * 3600)
CSRF_COOKIE_SECURE = True
CSRF_COOKIE_SAMESITE = "Lax"
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("DJANGO_CSRF_TRUSTED_ORIGINS", "").split(",") if o]

# --- Transport and headers ------------------------------------------------------------------
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
SECURE_REDIRECT_EXEMPT = [r"^health/$"]  # the load balancer probes over plain HTTP
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# --- Uploads: bounded in memory and on disk; stored files not world-readable ----------------
FILE_UPLOAD_PERMISSIONS = 0o640
FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o750
DATA_UPLOAD_MAX_NUMBER_FIELDS = 2000

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
