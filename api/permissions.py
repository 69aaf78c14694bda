"""Permission classes named by role (groups vetter/curator/admin, see ``vetting.core.roles``).

Roles nest: a curator is also a vetter, an admin is also a curator. Anonymous requests fail
authentication first (401), signed-in users without the role get 403.
"""
from __future__ import annotations

from rest_framework.permissions import SAFE_METHODS, BasePermission

from vetting.core.roles import is_admin, is_curator, is_vetter


class _RolePermission(BasePermission):
    role_check = staticmethod(lambda user: False)
    role_name = ""

    @property
    def message(self) -> str:
        return f"This needs the {self.role_name} role."

    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.is_authenticated and self.role_check(request.user))


class IsVetter(_RolePermission):
    """Vetters, curators and admins."""

    role_check = staticmethod(is_vetter)
    role_name = "vetter"


class IsCurator(_RolePermission):
    """Curators and admins."""

    role_check = staticmethod(is_curator)
    role_name = "curator"


class IsAdmin(_RolePermission):
    """Admins (and superusers)."""

    role_check = staticmethod(is_admin)
    role_name = "admin"


class IsLabelOwnerOrCuratorReadOnly(BasePermission):
    """Object level: a vetter edits only their own labels; curators may read every label."""

    message = "You can only change your own labels."

    def has_object_permission(self, request, view, obj) -> bool:
        if request.method in SAFE_METHODS:
            return obj.vetter_id == request.user.pk or is_curator(request.user)
        return obj.vetter_id == request.user.pk
