"""docker/compose.yaml parses and can run N workers against shared storage (issue 16).

``make check-docker`` validates the file with Docker Compose itself where it is installed; this
test reads it with PyYAML everywhere (the suite runs without Docker)."""
from __future__ import annotations

from pathlib import Path

import yaml

COMPOSE = Path(__file__).resolve().parent.parent / "docker" / "compose.yaml"


def _compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def test_compose_parses_and_every_dependency_and_volume_is_declared():
    compose = _compose()
    services, volumes = compose["services"], set(compose["volumes"])
    for name, service in services.items():
        for needed in service.get("depends_on") or {}:
            assert needed in services, f"{name} depends on unknown service {needed}"
        for mount in service.get("volumes") or []:
            source = mount.split(":", 1)[0]
            assert source.startswith((".", "/")) or source in volumes, f"{name}: undeclared volume {source}"


def test_worker_scales_and_shares_storage_with_web():
    services = _compose()["services"]
    worker, web = services["worker"], services["web"]
    # --scale worker=N needs no fixed name and no published port
    assert "container_name" not in worker and "ports" not in worker
    assert "imports" in " ".join(worker["command"])
    for service in (worker, web):
        env = service["environment"]
        assert env["VETTING_STORAGE"].startswith("${VETTING_STORAGE:-s3}")
        assert "minio:9000" in env["VETTING_S3_ENDPOINT_URL"] and env["AWS_ACCESS_KEY_ID"]
    assert "minio" in services and services["minio-bucket"]["depends_on"]["minio"]["condition"] == "service_healthy"
    assert worker["depends_on"]["minio-bucket"]["condition"] == "service_completed_successfully"
