"""Accounts with a role: the one write path for ``manage.py create_user`` (and any later caller).

A role is a group (``vetting.core.roles``) plus the admin flags it implies: curators and admins
may open the admin (``is_staff``), admins may do everything there (``is_superuser``); vetters
use the site and the API only.
"""
from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction

from vetting.core.roles import ADMIN, CURATOR, ROLES


@transaction.atomic
def user_upsert_with_role(*, username: str, role: str, password: str | None = None):
    """Create the user ``username`` with ``role``, or give an existing one that role.

    Parameters
    ----------
    username : str
        Login name (Django's username rules).
    role : str
        One of ``vetting.core.roles.ROLES``; replaces any other role the user had.
    password : str or None
        New password (checked by ``AUTH_PASSWORD_VALIDATORS``); ``None`` keeps the current one,
        which only an existing user has.

    Returns
    -------
    (user, created) : (User, bool)

    Raises
    ------
    django.core.exceptions.ValidationError
        Unknown role, invalid username, a new user without password, or a weak password.
    """
    if role not in ROLES:
        raise ValidationError({"role": f"unknown role {role!r}; one of {', '.join(ROLES)}"})
    User = get_user_model()
    user = User.objects.select_for_update().filter(username=username).first()
    created = user is None
    if created:
        if not password:
            raise ValidationError({"password": "a new user needs a password"})
        user = User(username=username)
    user.is_staff = role in (CURATOR, ADMIN)
    user.is_superuser = role == ADMIN
    user.is_active = True
    if password is not None:
        validate_password(password, user)
        user.set_password(password)
    user.full_clean()
    user.save()
    user.groups.remove(*Group.objects.filter(name__in=ROLES).exclude(name=role))
    user.groups.add(Group.objects.get(name=role))
    return user, created
