"""Template context: the user's roles, so templates show curator-only links."""
from vetting.core.roles import is_curator


def roles(request):
    user = getattr(request, "user", None)
    return {"is_curator": bool(user and user.is_authenticated and is_curator(user))}
