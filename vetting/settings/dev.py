"""Local development: DEBUG on, a throwaway secret, SQLite and a local Redis by default."""
from .base import *
from .base import os

DEBUG = True
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "dev-only-insecure-key-do-not-deploy")
ALLOWED_HOSTS = ["*"]
