"""Target pixel files: the importer (real FITS structure written by classifier.synthetic_pixels,
read back through lightkurve), idempotent storage, pixel metrics in Candidate.features, the page
payload, catalog centroid statistics, the lightkurve/MAST source against a recorded search and a
fake source named in settings.

../shared/data holds no target pixel file (only light curves and tables), so every TPF here is
simulated and written as a mission-format FITS file."""
from __future__ import annotations

import numpy as np
import pytest
from django.core.management import call_command
from django.test import override_settings

from classifier.synthetic_pixels import simulate_tpf, write_tpf_fits
from vetting.candidates import selectors, services
from vetting.candidates.importers.errors import BadFileError
from vetting.candidates.importers.lightcurves import apply_products
from vetting.candidates.importers.products import Products
from vetting.candidates.importers.tpf import apply_catalog_centroids
from vetting.candidates.models import Candidate, SourceCatalog, TargetPixelFile, TimeSystem
from vetting.candidates.sources import MastTargetPixelSource, TargetPixelSource

pytestmark = pytest.mark.django_db

PERIOD, EPOCH_BKJD, DURATION_H = 3.0, 131.7, 3.0


def light_curve(t0: float, depth: float = 0.004, seed: int = 0):
    rng = np.random.default_rng(seed)
    time = t0 + 29.4 / 1440 * np.arange(2500)
    phase = np.abs((time - EPOCH_BKJD + 0.5 * PERIOD) % PERIOD - 0.5 * PERIOD)
    return time, 1.0 - depth * (phase < DURATION_H / 48) + rng.normal(0, 5e-5, time.size)


@pytest.fixture
def write_tpf(tmp_path):
    """``write_tpf(host, star_id, name) -> Path``: a Kepler TPF whose transit sits on the
    target (``host="target"``) or on a neighbour 2 px away (``"neighbour"``)."""
    def make(host: str, star_id: int = 123, name: str = "tpf.fits", quarter: int = 2, seed: int = 1):
        time, flux = light_curve(131.5, seed=seed)
        tpf = simulate_tpf(time, flux, np.random.default_rng(seed), host=host, neighbour_fraction=0.1,
                           separation_px=2.0)
        return write_tpf_fits(tpf, tmp_path / name, star_id=star_id, ra_deg=291.0, dec_deg=42.0, quarter=quarter)
    return make


def candidate(make_candidate, star="KIC 123", **fields):
    return make_candidate(target_id=star, period_days=PERIOD, epoch=EPOCH_BKJD, duration_hours=DURATION_H, **fields)


def test_import_blended_eb_tpf_flags_the_offset(write_tpf, make_candidate):
    cand = candidate(make_candidate)
    report = services.import_tpf_file(path=write_tpf("neighbour"))
    assert report.counts["tpfs_created"] == 1 and report.counts["pixel_products_computed"] == 1
    row = TargetPixelFile.objects.get()
    assert (row.mission, row.quarter, row.n_rows, row.n_cols) == ("kepler", 2, 11, 11)
    assert row.time_system == TimeSystem.BKJD and row.pixel_scale_arcsec == pytest.approx(3.98)
    assert row.load_arrays()["flux"].shape == (row.n_cadences, 11, 11)
    cand.refresh_from_db()
    assert cand.features["centroid_offset_arcsec"] == pytest.approx(2 * 3.98, abs=0.6)
    assert cand.features["centroid_offset_sigma"] > 5
    assert cand.pixel_payload["verdict"] == "offset"
    assert len(cand.pixel_payload["diff_image"]) == 11 and cand.pixel_payload["source"]["quarter"] == 2


def test_planet_tpf_is_on_target_and_reimport_adds_nothing(write_tpf, make_candidate):
    cand = candidate(make_candidate)
    path = write_tpf("target")
    services.import_tpf_file(path=path)
    cand.refresh_from_db()
    assert cand.pixel_payload["verdict"] == "on_target" and cand.features["centroid_offset_sigma"] < 3
    again = services.import_tpf_file(path=path)
    assert again.counts["tpfs_existing"] == 1 and TargetPixelFile.objects.count() == 1


def test_tess_tpf_in_btjd_against_a_bjd_epoch(tmp_path, make_candidate):
    # TESS: TPF times in BTJD (BJD - 2457000), a TOI epoch in BJD
    epoch_btjd = 1600.3
    time = 1600.0 + 2 / 1440 * np.arange(20000)
    phase = np.abs((time - epoch_btjd + 0.5 * PERIOD) % PERIOD - 0.5 * PERIOD)
    flux = 1.0 - 0.01 * (phase < DURATION_H / 48)
    tpf = simulate_tpf(time, flux, np.random.default_rng(5), host="neighbour", neighbour_fraction=0.2,
                       separation_px=1.5, mission="tess")
    path = write_tpf_fits(tpf, tmp_path / "tess.fits", star_id=777, ra_deg=10.0, dec_deg=-30.0, sector=3,
                          cadence_minutes=2.0)
    cand = make_candidate(mission="tess", target_id="TIC 777", source_catalog=SourceCatalog.TOI,
                          period_days=PERIOD, epoch=epoch_btjd + 2457000.0, epoch_system=TimeSystem.BJD,
                          duration_hours=DURATION_H)
    services.import_tpf_file(path=path)
    row = TargetPixelFile.objects.get()
    assert (row.mission, row.sector, row.quarter, row.time_system) == ("tess", 3, None, TimeSystem.BTJD)
    cand.refresh_from_db()
    assert cand.pixel_payload["verdict"] == "offset"
    assert cand.features["centroid_offset_arcsec"] == pytest.approx(1.5 * 21.0, abs=4.0)


def test_a_light_curve_is_not_a_tpf(shared_data):
    path = shared_data / "kepler/lightcurves/exohunt_example_10797460.fits"
    with pytest.raises(BadFileError, match="not a target pixel file"):
        services.import_tpf_file(path=path)
    assert not TargetPixelFile.objects.exists()


def test_garbage_is_rejected(tmp_path):
    path = tmp_path / "x.fits"
    path.write_bytes(b"SIMPLE  = nonsense" * 100)
    with pytest.raises(BadFileError):
        services.import_tpf_file(path=path)


def test_light_curve_recompute_keeps_pixel_metrics(write_tpf, make_candidate):
    cand = candidate(make_candidate)
    services.import_tpf_file(path=write_tpf("neighbour"))
    cand.refresh_from_db()
    apply_products(cand, Products(features={"snr": 12.0}))
    assert cand.features["snr"] == 12.0 and cand.features["centroid_offset_sigma"] > 5


def test_catalog_centroids_fill_features_unless_a_tpf_measured_them(write_tpf, make_candidate):
    from_catalog = candidate(make_candidate, star="KIC 9", source_catalog=SourceCatalog.DR25_TCE,
                             catalog_features={"tce_dikco_msky": 3.0, "tce_dikco_msky_err": 0.5})
    measured = candidate(make_candidate, source_catalog=SourceCatalog.DR25_TCE,
                         catalog_features={"tce_dikco_msky": 30.0, "tce_dikco_msky_err": 0.5})
    services.import_tpf_file(path=write_tpf("target"))
    assert apply_catalog_centroids(table="dr25_tce", candidate_ids=[from_catalog.pk, measured.pk]) == 1
    from_catalog.refresh_from_db()
    measured.refresh_from_db()
    assert from_catalog.features["centroid_offset_sigma"] == pytest.approx(6.0)
    assert measured.features["centroid_offset_sigma"] < 3  # the TPF's own measurement stays
    evidence = selectors.candidate_pixel_evidence(candidate=from_catalog)
    assert evidence["source"] == "catalog" and evidence["verdict"] == "offset" and evidence["figures"] == {}


def test_archive_import_writes_catalog_centroids(tmp_path):
    table = tmp_path / "dr25.csv"
    table.write_text("# COLUMN kepid: Kepler ID\nkepid,tce_plnt_num,tce_period,tce_time0bk,tce_duration,"
                     "tce_dikco_msky,tce_dikco_msky_err\n"
                     "10797460,1,9.48,170.5,2.9,0.10,0.20\n11446443,1,2.47,131.5,1.8,5.0,0.5\n")
    report = services.import_catalog_file(path=table)
    assert report.counts["catalog_centroids"] == 2
    on, off = Candidate.objects.order_by("catalog_id")
    assert selectors.candidate_pixel_evidence(candidate=on)["verdict"] == "on_target"
    assert off.features["centroid_offset_arcsec"] == 5.0 and off.features["centroid_offset_sigma"] == 10.0


def test_pixel_evidence_selector_needs_no_query(write_tpf, make_candidate, django_assert_num_queries):
    cand = candidate(make_candidate)
    services.import_tpf_file(path=write_tpf("neighbour"))
    cand = Candidate.objects.get(pk=cand.pk)
    with django_assert_num_queries(0):
        evidence = selectors.candidate_pixel_evidence(candidate=cand)
    assert evidence["source"] == "tpf" and evidence["verdict_label"] == "Offset from the target"
    assert set(evidence["figures"]) == {"pixel_mean", "pixel_diff"}
    assert evidence["rows"][0][0] == "Transit source offset from the target"
    assert selectors.candidate_pixel_evidence(candidate=make_candidate(target_id="KIC 5")) is None


class RecordedTpfSearch:
    """What ``lightkurve.search_targetpixelfile`` returns: ``download_all`` gives TPF objects
    read from local files (recorded downloads), as lightkurve does after a MAST download."""

    def __init__(self, paths, calls):
        self.paths, self.calls = paths, calls

    def __len__(self):
        return len(self.paths)

    def download_all(self, download_dir=None, **kwargs):
        import lightkurve as lk

        self.calls.append(("download_all", download_dir))
        return lk.TargetPixelFileCollection([lk.read(str(p)) for p in self.paths])


def test_mast_tpf_source_downloads_and_imports(monkeypatch, write_tpf, make_candidate):
    import lightkurve

    paths = [write_tpf("neighbour", name="q2.fits", quarter=2), write_tpf("neighbour", name="q3.fits", quarter=3,
                                                                           seed=2)]
    calls = []

    def search_targetpixelfile(target, **query):
        calls.append(("search", target, query))
        return RecordedTpfSearch(paths if target == "KIC 123" else [], calls)

    monkeypatch.setattr(lightkurve, "search_targetpixelfile", search_targetpixelfile)
    cand = candidate(make_candidate)
    report = services.fetch_tpfs(candidate=cand, source=MastTargetPixelSource(), quarters=[2, 3])
    assert calls[0] == ("search", "KIC 123", {"mission": "Kepler", "author": "Kepler", "quarter": [2, 3]})
    assert report.counts["files_fetched"] == 2 and TargetPixelFile.objects.count() == 2
    cand.refresh_from_db()
    assert cand.pixel_payload["source"]["n_tpfs"] == 2 and cand.pixel_payload["verdict"] == "offset"
    assert cand.features["pixel_n_transits"] > 10
    nothing = services.fetch_tpfs(candidate=make_candidate(target_id="KIC 8"), source=MastTargetPixelSource())
    assert any("no target pixel files found" in w for w in nothing.warnings)


class FakeTpfSource(TargetPixelSource):
    """A source named in settings (as a site would name a local archive); serves one file."""

    name = "fake"
    path = None

    def fetch(self, target, *, mission=None, sectors=None, quarters=None):
        return [self.path]


def test_fake_source_from_settings_and_command(write_tpf, make_candidate):
    FakeTpfSource.path = write_tpf("target")
    cand = candidate(make_candidate)
    with override_settings(VETTING_TPF_SOURCE="tests.candidates.test_tpf_import.FakeTpfSource"):
        call_command("fetch_tpfs", "--candidate", str(cand.pk))
    row = TargetPixelFile.objects.get()
    assert row.source == "fake"
    cand.refresh_from_db()
    assert cand.pixel_payload["verdict"] == "on_target"


def test_import_tpf_command(write_tpf, make_candidate, capsys):
    candidate(make_candidate)
    write_tpf("target", name="a.fits")
    call_command("import_tpf", str(write_tpf("target", name="b.fits", seed=3).parent))
    assert TargetPixelFile.objects.count() == 2
    assert "tpfs_created" in capsys.readouterr().out


def test_demo_candidates_get_simulated_pixel_evidence():
    from vetting.candidates.importers.demo import load_demo

    load_demo(n=16, seed=5, workers=0)
    with_pixels = list(Candidate.objects.exclude(pixel_payload=None))
    assert len(with_pixels) >= 12
    for cand in with_pixels:
        assert len(cand.pixel_payload["mean_image"]) == 9 and "pixel_n_transits" in cand.features
        assert not (cand.simulated_truth == "PC" and cand.pixel_payload["verdict"] == "offset")
    assert not TargetPixelFile.objects.exists()  # the demo keeps the products, not the cubes


def test_candidate_page_shows_the_pixel_section(client, vetter, write_tpf, make_candidate):
    cand = candidate(make_candidate)
    services.import_tpf_file(path=write_tpf("neighbour"))
    client.force_login(vetter)
    html = client.get(f"/candidates/{cand.pk}/").content.decode()
    assert "Pixel-level evidence" in html and 'id="pixel-verdict"' in html and "Offset from the target" in html
    assert 'data-figure="pixel_diff"' in html and "Transit source offset from the target" in html
