"""Roles are Django groups: vetter, curator, admin, created by a data migration (and re-created
by :func:`ensure_role_groups` where a test flushed the tables)."""
from __future__ import annotations

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions

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


VETTER_PERMS = [
    "candidates.view_target", "candidates.view_candidate", "candidates.view_lightcurve",
    "reviews.view_label", "reviews.add_label", "reviews.view_dispute", "reviews.add_dispute",
    "reviews.view_disputecomment", "reviews.add_disputecomment", "reviews.view_consensus",
    "learning.view_classifierversion", "learning.view_prediction", "learning.view_trainingrun",
    "learning.view_queueentry",
]
CURATOR_PERMS = VETTER_PERMS + [
    "candidates.change_candidate", "candidates.view_importjob", "candidates.add_importjob",
    "candidates.add_candidate", "candidates.add_target", "candidates.add_lightcurve",
    "reviews.change_label", "reviews.change_dispute", "reviews.change_consensus",
    "learning.add_trainingrun", "learning.view_mislabelflag", "learning.change_mislabelflag",
    "learning.change_classifierversion",
]


def ensure_role_groups(apps=global_apps) -> None:
    """Create or update the role groups with their permissions (idempotent)."""
    for app_config in apps.get_app_configs():
        # Inside a migration the app registry is historical: permissions don't exist yet.
        had_models = getattr(app_config, "models_module", None)
        app_config.models_module = had_models or True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = had_models
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")

    def perms(names):
        found = []
        for name in names:
            app_label, codename = name.split(".")
            found.append(Permission.objects.get(content_type__app_label=app_label, codename=codename))
        return found

    vetter, _ = Group.objects.get_or_create(name="vetter")
    vetter.permissions.set(perms(VETTER_PERMS))
    curator, _ = Group.objects.get_or_create(name="curator")
    curator.permissions.set(perms(CURATOR_PERMS))
    admin, _ = Group.objects.get_or_create(name="admin")
    admin.permissions.set(Permission.objects.filter(
        content_type__app_label__in=["candidates", "reviews", "learning", "authtoken", "auth"]))
