"""API fixtures: token-authenticated clients per role, a model version with predictions, light curves."""
from __future__ import annotations

import io

import numpy as np
import pytest
from django.core.files.base import ContentFile
from rest_framework.test import APIClient

from tests.api.helpers import token_client


@pytest.fixture
def anon_client(db):
    return APIClient()


@pytest.fixture
def vetter_client(vetter):
    return token_client(vetter)


@pytest.fixture
def vetter2_client(vetter2):
    return token_client(vetter2)


@pytest.fixture
def curator_client(curator):
    return token_client(curator)


@pytest.fixture
def admin_client_role(admin_user_role):
    return token_client(admin_user_role)


@pytest.fixture
def norole_client(no_role_user):
    return token_client(no_role_user)


@pytest.fixture
def make_version(db):
    """Factory: ``make_version("v1", active=True)`` -> ClassifierVersion (no artifact file needed)."""
    from vetting.learning.models import ClassifierVersion

    def make(name: str, *, active: bool = False, metrics: dict | None = None):
        return ClassifierVersion.objects.create(
            name=name, artifact=f"models/{name}.skops", artifact_sha256="0" * 64, label_snapshot_hash="1" * 64,
            metrics=metrics or {"planet_ap": 0.8, "accuracy": 0.7}, classes=["PC", "EB", "BEB", "V", "IS", "J"],
            is_active=active, status="promoted" if active else "rejected",
        )

    return make


@pytest.fixture
def predict(db):
    """Factory: ``predict(candidate, version, p_planet, uncertainty=0.5)`` -> Prediction."""
    from vetting.learning.models import Prediction

    def make(candidate, version, p_planet: float, *, uncertainty: float = 0.5, predicted_class: str | None = None):
        rest = (1.0 - p_planet) / 5
        probabilities = {"PC": p_planet, "EB": rest, "BEB": rest, "V": rest, "IS": rest, "J": rest}
        return Prediction.objects.create(
            candidate=candidate, classifier_version=version, probabilities=probabilities,
            predicted_class=predicted_class or ("PC" if p_planet >= 0.5 else "EB"),
            p_planet=p_planet, p_triage=min(1.0, p_planet + 2 * rest), uncertainty=uncertainty,
        )

    return make


@pytest.fixture
def npz_bytes():
    """Factory: an .npz (time, flux, flux_err, quality) of ``n`` points with box transits."""

    def make(n: int = 1000, *, period: float = 2.0, epoch: float = 130.5, t0: float = 130.0, span: float = 20.0):
        time = np.linspace(t0, t0 + span, n)
        phase = (time - epoch) / period - np.floor((time - epoch) / period + 0.5)
        flux = np.where(np.abs(phase) < 0.02, 0.99, 1.0) + np.random.default_rng(1).normal(0, 1e-4, n)
        buf = io.BytesIO()
        np.savez(buf, time=time, flux=flux, flux_err=np.full(n, 1e-4), quality=np.zeros(n, dtype=np.int32))
        return buf.getvalue()

    return make


@pytest.fixture
def add_lightcurve(db, settings, tmp_path, npz_bytes):
    """Factory: attach a stored time-series light curve of ``n`` points to a candidate."""
    import hashlib

    from vetting.candidates.models import LightCurve

    settings.MEDIA_ROOT = tmp_path / "media"

    def make(candidate, *, n: int = 1000, sector: int | None = None, **kwargs):
        data = npz_bytes(n, **kwargs)
        curve = LightCurve(target=candidate.target, candidate=candidate, kind="timeseries", mission="kepler",
                           sector=sector, n_points=n, sha256=hashlib.sha256(data).hexdigest(), source="simulated")
        curve.data.save("lc.npz", ContentFile(data), save=False)
        curve.save()
        return curve

    return make
