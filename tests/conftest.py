"""Fixtures shared by the whole suite."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


def shared_data_path() -> Path:
    """Folder of real Kepler/TESS data (``VETTING_SHARED_DATA``, default ``../shared/data``)."""
    return Path(os.environ.get("VETTING_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path to the real data; skips the test with a clear message when it is absent."""
    path = shared_data_path()
    if not (path / "README.md").exists():
        pytest.skip(f"real Kepler/TESS data not found at {path} (set VETTING_SHARED_DATA)")
    return path
