"""``manage.py create_user NAME --role vetter|curator|admin`` (issue 12 defect 11)."""
from __future__ import annotations

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError

pytestmark = pytest.mark.django_db

GOOD = "Kepler-452b-is-far"


def _run(*args):
    out = io.StringIO()
    call_command("create_user", *args, stdout=out)
    return out.getvalue()


def _roles(user) -> set[str]:
    return set(user.groups.values_list("name", flat=True))


def test_creates_a_user_with_each_role_from_an_environment_variable(monkeypatch):
    monkeypatch.setenv("NEW_PW", GOOD)
    for name, role, staff, superuser in [("vic", "vetter", False, False), ("cora", "curator", True, False),
                                         ("ada", "admin", True, True)]:
        output = _run(name, "--role", role, "--password-env", "NEW_PW")
        user = get_user_model().objects.get(username=name)
        assert _roles(user) == {role}
        assert (user.is_staff, user.is_superuser, user.is_active) == (staff, superuser, True)
        assert user.check_password(GOOD)
        assert GOOD not in output and "Created" in output


def test_is_idempotent_and_changes_the_role(monkeypatch):
    monkeypatch.setenv("NEW_PW", GOOD)
    _run("vic", "--role", "vetter", "--password-env", "NEW_PW")
    _run("vic", "--role", "vetter", "--password-env", "NEW_PW")
    assert get_user_model().objects.filter(username="vic").count() == 1
    output = _run("vic", "--role", "curator", "--keep-password")
    user = get_user_model().objects.get(username="vic")
    assert _roles(user) == {"curator"} and user.is_staff and user.check_password(GOOD)
    assert "Updated" in output and "password unchanged" in output


def test_prompts_without_echo_when_no_variable_is_named(monkeypatch):
    import getpass
    import sys

    prompts = []
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True, raising=False)
    monkeypatch.setattr(getpass, "getpass", lambda prompt="": prompts.append(prompt) or GOOD)
    output = _run("vic", "--role", "vetter")
    assert len(prompts) == 2  # typed twice, never echoed (getpass)
    assert get_user_model().objects.get(username="vic").check_password(GOOD)
    assert GOOD not in output


def test_refuses_mismatched_prompts_missing_variables_and_weak_passwords(monkeypatch):
    import getpass
    import sys

    answers = iter([GOOD, GOOD + "x"])
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True, raising=False)
    monkeypatch.setattr(getpass, "getpass", lambda prompt="": next(answers))
    with pytest.raises(CommandError, match="do not match"):
        _run("vic", "--role", "vetter")
    monkeypatch.delenv("UNSET_PW", raising=False)
    with pytest.raises(CommandError, match="UNSET_PW is not set"):
        _run("vic", "--role", "vetter", "--password-env", "UNSET_PW")
    monkeypatch.setenv("WEAK_PW", "123")
    with pytest.raises(CommandError) as error:
        _run("vic", "--role", "vetter", "--password-env", "WEAK_PW")
    assert "too short" in str(error.value) and "123" not in str(error.value)  # the validators' word, not the secret
    with pytest.raises(CommandError, match="needs a password"):
        _run("vic", "--role", "vetter", "--keep-password")
    assert not get_user_model().objects.filter(username="vic").exists()


def test_no_terminal_and_no_variable_is_an_error(monkeypatch):
    import sys

    monkeypatch.setattr(sys.stdin, "isatty", lambda: False, raising=False)
    with pytest.raises(CommandError, match="--password-env"):
        _run("vic", "--role", "vetter")


def test_the_password_is_never_a_command_line_argument():
    with pytest.raises(CommandError):
        _run("vic", "--role", "vetter", "--password", GOOD)
    with pytest.raises(CommandError):
        _run("vic", "--role", "superuser", "--password-env", "X")  # roles are checked too
