"""Production settings pass ``check --deploy``; no default secret; CSRF; safe parsing of uploads."""
from __future__ import annotations

import io
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from django.urls import reverse

REPO = Path(__file__).resolve().parents[2]


def _run_with_production_settings(args: list[str], secret: str | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env["DJANGO_SETTINGS_MODULE"] = "vetting.settings.production"
    env["DJANGO_ALLOWED_HOSTS"] = "vetting.example.org"
    if secret is not None:
        env["DJANGO_SECRET_KEY"] = secret
    return subprocess.run([sys.executable, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)


def test_production_settings_pass_check_deploy():
    result = _run_with_production_settings(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"], secrets.token_urlsafe(64)
    )
    output = result.stdout + result.stderr
    security = re.findall(r"\(security\.\w+\)", output)
    assert not security, output  # the deployment (cookie, header, HTTPS) checks all pass
    assert result.returncode == 0, output  # and no other warning or error either
    assert "no issues" in output


@pytest.mark.parametrize("secret, message", [
    (None, "DJANGO_SECRET_KEY must be set in production"),
    ("", "DJANGO_SECRET_KEY must be set in production"),
    ("short-secret", "too short or not random"),
])
def test_production_refuses_to_start_without_a_real_secret(secret, message):
    result = _run_with_production_settings(["-c", "import django; django.setup()"], secret)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and message in result.stderr


# --- CSRF ---------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_csrf_is_enforced_on_login_site_forms_and_admin(vetter, curator, make_candidate):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    assert client.post(reverse("login"), {"username": "vera", "password": "pw-vera"}).status_code == 403

    client.force_login(vetter)
    candidate = make_candidate()
    assert client.post(reverse("label-create", args=[candidate.pk]), {"label_class": "PC"}).status_code == 403
    from vetting.reviews.models import Label

    assert not Label.objects.exists()

    curator.is_staff = True
    curator.save()
    client.force_login(curator)
    response = client.post(reverse("admin:learning_trainingrun_request"))
    assert response.status_code == 403


@pytest.mark.django_db
def test_api_session_writes_need_csrf_token_auth_does_not(vetter, make_candidate):
    from django.test import Client
    from rest_framework.authtoken.models import Token

    candidate = make_candidate()
    client = Client(enforce_csrf_checks=True)
    client.force_login(vetter)
    body = {"candidate": candidate.pk, "label_class": "PC"}
    assert client.post("/api/labels/", body, content_type="application/json").status_code == 403

    token = Token.objects.create(user=vetter)
    anon = Client(enforce_csrf_checks=True)
    response = anon.post("/api/labels/", body, content_type="application/json",
                         HTTP_AUTHORIZATION=f"Token {token.key}")
    assert response.status_code == 201, response.content


# --- Bad input is refused, never executed -------------------------------------------------------

@pytest.mark.django_db
def test_request_bodies_are_size_limited(client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    response = client.post(reverse("login"), {"username": "x" * 20_000, "password": "y"})
    assert response.status_code == 400


@pytest.mark.django_db
def test_lightcurve_files_with_pickled_objects_are_refused(settings, tmp_path, make_candidate):
    from django.core.files.base import ContentFile

    from vetting.candidates.models import LightCurve

    settings.MEDIA_ROOT = tmp_path
    buffer = io.BytesIO()
    np.savez(buffer, time=np.arange(3.0), flux=np.array([{"evil": 1}, None, 3], dtype=object))
    candidate = make_candidate()
    lc = LightCurve(target=candidate.target, candidate=candidate, mission="kepler", sha256="0" * 64)
    lc.data.save("evil.npz", ContentFile(buffer.getvalue()), save=True)
    with pytest.raises(ValueError, match="allow_pickle"):
        lc.load_arrays()


def test_model_artifacts_are_refused_when_their_hash_differs(tmp_path):
    from sklearn.dummy import DummyClassifier

    from classifier.persistence import ArtifactIntegrityError, load_artifact, save_artifact

    model = DummyClassifier().fit([[0], [1]], [0, 1])
    path = save_artifact(model, tmp_path, feature_names=["x"], classes=["0", "1"], seed=1, label_hash="0" * 64)
    assert load_artifact(path).model is not None  # the site's own, untouched artifact loads
    with open(path, "ab") as handle:
        handle.write(b"tampered")
    with pytest.raises(ArtifactIntegrityError):
        load_artifact(path)


#: Calls that would run code from user data; none may appear in the site's code.
_UNSAFE = [
    (re.compile(r"allow_pickle\s*=\s*True"), "np.load with allow_pickle=True"),
    (re.compile(r"\bpickle\.loads?\("), "pickle.load"),
    (re.compile(r"\byaml\.load\((?![^)]*SafeLoader)"), "yaml.load without SafeLoader"),
    (re.compile(r"(?<![\w.])eval\("), "eval"),
    (re.compile(r"\bmark_safe\([^)]*request"), "mark_safe on request data"),
]


def test_site_code_never_unpickles_or_evaluates_user_data():
    offenders = []
    for root in ("vetting", "api", "classifier"):
        for path in (REPO / root).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            for pattern, what in _UNSAFE:
                for match in pattern.finditer(text):
                    line = text.count("\n", 0, match.start()) + 1
                    offenders.append(f"{path.relative_to(REPO)}:{line}: {what}")
    # joblib unpickles: only the artifact loader may call it, after its sha256 check.
    for path in (REPO / "vetting").rglob("*.py"):
        if "joblib.load(" in path.read_text(encoding="utf-8"):
            offenders.append(f"{path.relative_to(REPO)}: joblib.load outside classifier/persistence.py")
    assert not offenders, "\n".join(offenders)


# --- Login throttle: site and admin login, one counter ------------------------------------------

@pytest.mark.django_db
def test_admin_login_is_throttled_with_the_site_login(client, curator):
    """Issue 12 defect 2: 40 wrong passwords on /admin/login/ were all checked, then the right one
    logged in. Failures on either login page count towards one lockout of the address."""
    curator.is_staff = True
    curator.save()
    for i in range(10):
        path = reverse("admin:login") if i % 2 else reverse("login")
        assert client.post(path, {"username": "carla", "password": "wrong"}).status_code == 200
    for path in (reverse("admin:login"), reverse("login")):
        response = client.post(path, {"username": "carla", "password": "pw-carla"})
        assert response.status_code == 429
        assert b"Too many failed attempts" in response.content
        assert int(response["Retry-After"]) > 0
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_successful_logins_do_not_count_towards_the_lockout(client, vetter):
    for _ in range(12):
        response = client.post(reverse("login"), {"username": "vera", "password": "pw-vera"})
        assert response.status_code == 302
        client.logout()
    for _ in range(9):  # nine failures after them still leave one try
        client.post(reverse("login"), {"username": "vera", "password": "wrong"})
    assert client.post(reverse("login"), {"username": "vera", "password": "pw-vera"}).status_code == 302


@pytest.mark.django_db
def test_login_throttle_ignores_a_forged_forwarded_for_header(client, vetter, settings):
    """Without a proxy (VETTING_NUM_PROXIES=0) a client cannot pick its own address."""
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 0}
    for i in range(10):
        client.post(reverse("login"), {"username": "vera", "password": "wrong"}, HTTP_X_FORWARDED_FOR=f"10.0.0.{i}")
    response = client.post(reverse("login"), {"username": "vera", "password": "pw-vera"},
                           HTTP_X_FORWARDED_FOR="10.0.0.99")
    assert response.status_code == 429
