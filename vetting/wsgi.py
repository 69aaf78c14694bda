"""WSGI entry point (gunicorn vetting.wsgi)."""
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vetting.settings.production")
application = get_wsgi_application()
