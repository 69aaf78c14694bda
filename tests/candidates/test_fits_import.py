"""FITS light curves: real Kepler files, products at import, re-imports, bad files."""
from __future__ import annotations

import shutil

import numpy as np
import pytest
from astropy.io import fits

from tests.candidates.conftest import FITS_DIR, KOI
from vetting.candidates import services
from vetting.candidates.importers.errors import BadFileError
from vetting.candidates.models import Candidate, LightCurve, Target

pytestmark = pytest.mark.django_db

KEPLER_752 = "exohunt_example_10797460.fits"  # KIC 10797460: K00752.01 and .02, quarter 1
OFFICIAL = "kplr011446443-2009131110544_slc.fits"  # NASA/Ames short cadence, PDCSAP_FLUX


def test_fits_import_stores_npz_and_computes_views_once(shared_data, table_slice):
    services.import_catalog_file(path=table_slice(KOI, 3))  # K00752.01, .02 (+ one more)
    report = services.import_fits_file(path=shared_data / FITS_DIR / KEPLER_752)
    assert report.counts["lightcurves_created"] == 1 and report.counts["products_computed"] == 2
    lc = LightCurve.objects.get()
    assert lc.target.catalog_id == "KIC 10797460" and lc.quarter == 1 and lc.mission == "kepler"
    assert lc.cadence_s == pytest.approx(1765.5, abs=1) and lc.flux_column == "FLUX" and lc.time_system == "BKJD"
    arrays = lc.load_arrays()
    assert set(arrays) == {"time", "flux", "flux_err", "quality"} and arrays["time"].size == lc.n_points == 1626
    assert np.nanmedian(arrays["flux"]) == pytest.approx(1.0, abs=1e-6)
    assert np.isnan(arrays["flux"]).sum() == 2  # NaN cadences are kept (with their quality flags)
    koi = Candidate.objects.get(catalog_id="K00752.01")
    assert koi.view_array("global").shape == (201,) and koi.view_array("local").shape == (61,)
    assert koi.view_array("local").min() == pytest.approx(-1.0)
    assert koi.features["n_transits"] >= 3 and koi.features["catalog_depth_ppm"] == pytest.approx(615.8)
    # a 616 ppm planet: the measured depth is in the right range
    assert 300 < koi.features["depth_ppm"] < 1200
    assert koi.plot_payload["kind"] == "lightcurve" and len(koi.plot_payload["local_view"]) == 61


def test_fits_reimport_adds_nothing(shared_data, table_slice):
    services.import_catalog_file(path=table_slice(KOI, 3))
    path = shared_data / FITS_DIR / KEPLER_752
    services.import_fits_file(path=path)
    second = services.import_fits_file(path=path)
    assert second.counts["lightcurves_existing"] == 1 and not second.counts["lightcurves_created"]
    assert LightCurve.objects.count() == 1 and Target.objects.count() == 2


def test_official_pdcsap_file_without_candidates(shared_data):
    report = services.import_fits_file(path=shared_data / FITS_DIR / OFFICIAL)
    lc = LightCurve.objects.select_related("target").get()
    assert lc.flux_column == "PDCSAP_FLUX" and lc.quarter == 0 and lc.cadence_s == pytest.approx(58.85, abs=0.1)
    assert lc.target.catalog_id == "KIC 11446443" and lc.target.teff_k == pytest.approx(5820.0)
    assert any("no candidate" in w for w in report.warnings)


def _copy(shared_data, tmp_path, name=KEPLER_752):
    dst = tmp_path / name
    shutil.copy(shared_data / FITS_DIR / name, dst)
    dst.chmod(0o644)
    return dst


def test_truncated_fits_writes_nothing(shared_data, tmp_path):
    path = _copy(shared_data, tmp_path)
    path.write_bytes(path.read_bytes()[:9000])
    with pytest.raises(BadFileError, match="not a readable FITS light curve"):
        services.import_fits_file(path=path)
    assert not LightCurve.objects.exists() and not Target.objects.exists()


def test_nan_only_lightcurve_writes_nothing(shared_data, tmp_path):
    path = _copy(shared_data, tmp_path)
    with fits.open(path, mode="update") as hdul:
        hdul[1].data["FLUX"][:] = np.nan
    with pytest.raises(BadFileError, match="no finite flux values"):
        services.import_fits_file(path=path)
    assert not LightCurve.objects.exists() and not Target.objects.exists()


def test_unknown_mission_writes_nothing(shared_data, tmp_path):
    path = _copy(shared_data, tmp_path)
    with fits.open(path, mode="update") as hdul:
        hdul[0].header["TELESCOP"] = "HUBBLE"
        hdul[0].header["MISSION"] = "HUBBLE"
    with pytest.raises(BadFileError, match="unknown mission 'HUBBLE'"):
        services.import_fits_file(path=path)
    assert not LightCurve.objects.exists()


def test_not_a_fits_file(tmp_path):
    path = tmp_path / "table.fits"
    path.write_text("kepid,kepoi_name\n1,K1\n")
    with pytest.raises(BadFileError, match="not a readable FITS"):
        services.import_fits_file(path=path)
    assert not LightCurve.objects.exists()


def test_siblings_are_masked_at_import_and_recompute(shared_data, tmp_path):
    """Kepler-36 (KIC 11401755): K00277.01's transits folded on K00277.02's period made a 19.9
    sigma "secondary"; the importer and recompute_products pass the sibling's ephemeris."""
    from vetting.candidates.recompute import products_recompute

    src = shared_data / KOI
    lines = src.read_text(encoding="utf-8").splitlines(keepends=True)
    header = [line for line in lines if line.startswith("#")]
    rows = [line for line in lines if not line.startswith("#")]
    table = tmp_path / "koi_kepler36.csv"
    table.write_text("".join(header + rows[:1] + [r for r in rows[1:] if ",K00277.0" in r]), encoding="utf-8")
    services.import_catalog_file(path=table)
    services.import_fits_file(path=shared_data / FITS_DIR / "exohunt_cache_11401755.fits")
    koi = Candidate.objects.get(catalog_id="K00277.02")
    assert koi.features["secondary_best_sigma"] < 5
    products_recompute(candidate_ids=[koi.pk])
    koi.refresh_from_db()
    assert koi.features["secondary_best_sigma"] < 5
