"""Helpers for API tests."""
from __future__ import annotations

from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient


def token_client(user) -> APIClient:
    """An APIClient sending ``Authorization: Token <key>`` for this user."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return client


def error_of(response) -> dict:
    """The ``error`` object of an API error body (asserting the shape)."""
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "fields"}, body
    assert body["error"]["message"], body
    return body["error"]
