"""Helpers for the import tests: small slices of the real archive tables in tmp files."""
from __future__ import annotations

from pathlib import Path

import pytest

KOI = "kepler/koi_cumulative_2019-01-20.csv"
DR24 = "kepler/dr24_tce_autovetter.csv"
TOI = "tess/toi_2025-10-04.csv"
FITS_DIR = "kepler/lightcurves"


def write_slice(src: Path, dst: Path, n_rows: int, *, edit=None) -> Path:
    """Copy the ``#`` comments, the header and the first ``n_rows`` data rows of ``src``.

    ``edit(index, line) -> line`` may change data rows (index 0 = first data row).
    """
    out, seen_header, n = [], False, 0
    with open(src, encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("#") or not seen_header:
                out.append(line)
                seen_header = seen_header or not line.startswith("#")
                continue
            if n >= n_rows:
                break
            out.append(edit(n, line) if edit else line)
            n += 1
    dst.write_text("".join(out), encoding="utf-8")
    return dst


@pytest.fixture
def table_slice(shared_data, tmp_path):
    """``table_slice(KOI, 200, edit=None) -> Path`` of a tmp file with the first rows."""
    def make(relative: str, n_rows: int, *, edit=None, name: str | None = None) -> Path:
        return write_slice(shared_data / relative, tmp_path / (name or Path(relative).name), n_rows, edit=edit)
    return make


@pytest.fixture
def real_worker_media():
    """Ask for this in a test that starts its own worker: files stay in the test settings' MEDIA_ROOT."""


@pytest.fixture(autouse=True)
def _media_in_tmp(request, tmp_path):
    """Light-curve files go to a per-test folder, never the shared test media root; except with
    a real worker, which runs in its own process on the test settings' MEDIA_ROOT."""
    if {"celery_worker_process", "real_worker_media"} & set(request.fixturenames):
        yield
        return
    settings = request.getfixturevalue("settings")
    settings.MEDIA_ROOT = tmp_path / "media"
    yield
