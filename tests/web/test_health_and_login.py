import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_login_required_redirects_anonymous(client):
    response = client.get(reverse("candidate-queue"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_login_page_is_public(client):
    assert client.get(reverse("login")).status_code == 200


def test_candidate_list_renders_for_vetter(client, vetter, make_candidate):
    make_candidate("K00752.01")
    client.force_login(vetter)
    response = client.get(reverse("candidate-queue"))
    assert response.status_code == 200
    assert b"K00752.01" in response.content


def test_health_reports_database_and_broker(admin_client):
    response = admin_client.get(reverse("health"))  # the details are for staff (tests/web/test_faults.py)
    body = response.json()
    assert response.status_code == 200
    assert body["database"]["ok"] is True
    assert body["broker"]["ok"] is True


def test_login_throttled_after_repeated_failures(client, vetter):
    for _ in range(10):
        client.post(reverse("login"), {"username": "vera", "password": "wrong"})
    response = client.post(reverse("login"), {"username": "vera", "password": "pw-vera"})
    assert response.status_code == 429
    assert b"Too many failed attempts" in response.content
