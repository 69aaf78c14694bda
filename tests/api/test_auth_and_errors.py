"""Authentication (token, session, anonymous), role permissions, the error body, throttling, tokens."""
from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.api.helpers import error_of

LIST_ENDPOINTS = ["/api/targets/", "/api/candidates/", "/api/labels/", "/api/disputes/",
                  "/api/classifier-versions/", "/api/training-runs/", "/api/predictions/", "/api/queue/",
                  "/api/exports/labels.csv", "/api/exports/predictions.json"]


@pytest.mark.parametrize("url", LIST_ENDPOINTS + ["/api/imports/", "/api/me/"])
def test_anonymous_gets_401_with_json_error(anon_client, url):
    response = anon_client.get(url)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Token")
    assert error_of(response)["code"] == "not_authenticated"


def test_bad_token_gets_401(db):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    response = client.get("/api/candidates/")
    assert response.status_code == 401
    assert error_of(response)["code"] == "authentication_failed"


@pytest.mark.parametrize("url", LIST_ENDPOINTS)
def test_user_without_role_gets_403(norole_client, url):
    response = norole_client.get(url)
    assert response.status_code == 403
    error = error_of(response)
    assert error["code"] == "permission_denied"
    assert "vetter role" in error["message"]


@pytest.mark.parametrize("url", LIST_ENDPOINTS)
def test_every_role_reads_lists(vetter_client, curator_client, admin_client_role, url):
    for client in (vetter_client, curator_client, admin_client_role):
        assert client.get(url).status_code == 200, url


def test_imports_need_curator(vetter_client, curator_client, admin_client_role):
    assert error_of(vetter_client.get("/api/imports/"))["message"] == "This needs the curator role."
    assert curator_client.get("/api/imports/").status_code == 200
    assert admin_client_role.get("/api/imports/").status_code == 200


def test_session_auth_works_for_the_browser(client, vetter):
    client.force_login(vetter)
    response = client.get("/api/me/")
    assert response.status_code == 200
    assert response.json() == {"id": vetter.pk, "username": "vera", "roles": ["vetter"]}


def test_session_post_needs_csrf(vetter, make_candidate):
    candidate = make_candidate()
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(vetter)
    response = client.post("/api/labels/", {"candidate": candidate.pk, "label_class": "PC"}, format="json")
    assert response.status_code == 403
    assert "CSRF" in error_of(response)["message"]


def test_me_lists_nested_roles(curator_client, admin_client_role):
    assert curator_client.get("/api/me/").json()["roles"] == ["vetter", "curator"]
    assert admin_client_role.get("/api/me/").json()["roles"] == ["vetter", "curator", "admin"]


def test_unknown_id_is_json_404(vetter_client):
    for url in ("/api/candidates/999999/", "/api/labels/999999/", "/api/disputes/999999/",
                "/api/classifier-versions/999999/", "/api/training-runs/999999/", "/api/targets/999999/",
                "/api/candidates/999999/lightcurve/"):
        response = vetter_client.get(url)
        assert response.status_code == 404, url
        assert error_of(response)["code"] == "not_found"


def test_unknown_path_under_api_is_json_404(vetter_client):
    response = vetter_client.get("/api/no-such-thing/")
    assert response.status_code == 404
    assert "/api/no-such-thing/" in error_of(response)["message"]


def test_validation_error_names_fields(vetter_client, make_candidate):
    candidate = make_candidate()
    response = vetter_client.post("/api/labels/", {"candidate": candidate.pk, "label_class": "XX",
                                                   "confidence": "high"}, format="json")
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "invalid"
    assert set(error["fields"]) == {"label_class", "confidence"}
    assert "label_class" in error["message"] and "confidence" in error["message"]


def test_service_permission_denied_becomes_403(vetter_client, make_candidate, vetter):
    from vetting.reviews.services import dispute_open

    dispute = dispute_open(candidate=make_candidate(), opened_by=vetter, reason="looks like an EB")
    response = vetter_client.post(f"/api/disputes/{dispute.pk}/resolve/", {"resolved_class": "EB"}, format="json")
    assert response.status_code == 403
    assert error_of(response)["code"] == "permission_denied"


def test_throttling_answers_429_with_error_body(vetter_client, monkeypatch):
    from django.core.cache import cache
    from rest_framework.throttling import UserRateThrottle

    cache.clear()
    monkeypatch.setattr(UserRateThrottle, "THROTTLE_RATES", {"user": "2/minute", "anon": "2/minute"})
    codes = [vetter_client.get("/api/me/").status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    response = vetter_client.get("/api/me/")
    assert error_of(response)["code"] == "throttled"
    assert int(response["Retry-After"]) > 0
    cache.clear()


def test_anonymous_throttled_on_public_endpoints(anon_client, monkeypatch):
    """Protected endpoints answer anonymous requests 401 before throttling; the public schema is throttled."""
    from django.core.cache import cache
    from rest_framework.throttling import AnonRateThrottle

    cache.clear()
    monkeypatch.setattr(AnonRateThrottle, "THROTTLE_RATES", {"user": "2/minute", "anon": "2/minute"})
    codes = [anon_client.get("/api/schema/").status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    cache.clear()


def test_create_api_token_command(vetter):
    out = io.StringIO()
    call_command("create_api_token", "vera", stdout=out)
    key = out.getvalue().strip()
    assert key == Token.objects.get(user=vetter).key
    again = io.StringIO()
    call_command("create_api_token", "vera", stdout=again)
    assert again.getvalue().strip() == key  # idempotent
    reset = io.StringIO()
    call_command("create_api_token", "vera", "--reset", stdout=reset)
    assert reset.getvalue().strip() != key
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {reset.getvalue().strip()}")
    assert client.get("/api/me/").json()["username"] == "vera"


def test_create_api_token_unknown_user(db):
    with pytest.raises(CommandError, match="no user named 'ghost'"):
        call_command("create_api_token", "ghost")
