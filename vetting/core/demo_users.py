"""Demo accounts for local runs only (printed by ``rundemo``; never created in production)."""
from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

DEMO_USERS = (
    ("admin", "admin-demo-pass", "admin"),
    ("curator", "curator-demo-pass", "curator"),
    ("vetter", "vetter-demo-pass", "vetter"),
    ("vetter2", "vetter2-demo-pass", "vetter"),
)


def ensure_demo_users() -> list[tuple[str, str, str]]:
    """Create (or reset) the demo users; returns (username, password, role) triples."""
    User = get_user_model()
    for username, password, role in DEMO_USERS:
        user, _ = User.objects.get_or_create(username=username)
        user.set_password(password)
        user.is_staff = role in {"admin", "curator"}
        user.is_superuser = role == "admin"
        user.save()
        user.groups.add(Group.objects.get(name=role))
    return list(DEMO_USERS)
