"""``manage.py create_api_token USERNAME [--reset]``: print the user's API token (created if absent)."""
from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from rest_framework.authtoken.models import Token


class Command(BaseCommand):
    help = "Create (or show) the REST API token of a user; --reset replaces it. Prints the key only."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--reset", action="store_true", help="delete the old token and make a new one")

    def handle(self, *args, username: str, reset: bool, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"no user named {username!r}; create it first (manage.py createsuperuser or the admin)")
        if not user.is_active:
            raise CommandError(f"user {username!r} is inactive; a token would not authenticate")
        if reset:
            Token.objects.filter(user=user).delete()
        token, _ = Token.objects.get_or_create(user=user)
        self.stdout.write(token.key)
