"""``manage.py create_user NAME --role vetter|curator|admin [--password-env VAR | --keep-password]``.

The password never appears on the command line (where ``ps`` and the shell history would show
it) and is never printed: it is read from the environment variable named by ``--password-env``
or typed at a prompt without echo (twice). Running it again for the same name updates the role
(and the password, unless ``--keep-password``): it never makes a second user.
"""
from __future__ import annotations

import getpass
import os
import sys

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from vetting.core.accounts import user_upsert_with_role
from vetting.core.roles import ROLES


class Command(BaseCommand):
    help = "Create a user with a role (vetter, curator, admin) or change an existing user's role."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--role", required=True, choices=ROLES)
        source = parser.add_mutually_exclusive_group()
        source.add_argument("--password-env", metavar="VAR",
                            help="read the password from this environment variable (not the password itself)")
        source.add_argument("--keep-password", action="store_true",
                            help="existing user: change the role only, not the password")

    def handle(self, *args, username: str, role: str, password_env: str | None, keep_password: bool, **options):
        password = None if keep_password else self._password(password_env)
        try:
            user, created = user_upsert_with_role(username=username, role=role, password=password)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        verb = "Created" if created else "Updated"
        self.stdout.write(f"{verb} user {user.username!r} with role {role}"
                          + (" (password unchanged)" if password is None else ""))

    def _password(self, password_env: str | None) -> str:
        if password_env:
            password = os.environ.get(password_env, "")
            if not password:
                raise CommandError(f"environment variable {password_env} is not set or empty")
            return password
        if not sys.stdin.isatty():
            raise CommandError("no terminal to prompt for the password: use --password-env VAR")
        password = getpass.getpass("Password: ")
        if password != getpass.getpass("Password (again): "):
            raise CommandError("the passwords do not match")
        if not password:
            raise CommandError("empty password")
        return password
