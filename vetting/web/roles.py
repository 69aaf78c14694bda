"""Roles are Django groups: vetter, curator, admin. Created by a data migration."""
from __future__ import annotations

VETTER, CURATOR, ADMIN = "vetter", "curator", "admin"
ROLES = (VETTER, CURATOR, ADMIN)


def has_role(user, *roles: str) -> bool:
    """True if the user is a superuser or in one of the named groups."""
    if not getattr(user, "is_authenticated", False):
        return False
    if user.is_superuser:
        return True
    names = getattr(user, "_role_names", None)
    if names is None:
        names = set(user.groups.values_list("name", flat=True))
        user._role_names = names  # cache per request object
    return bool(names.intersection(roles))


def is_vetter(user) -> bool:
    return has_role(user, VETTER, CURATOR, ADMIN)


def is_curator(user) -> bool:
    return has_role(user, CURATOR, ADMIN)


def is_admin(user) -> bool:
    return has_role(user, ADMIN)
