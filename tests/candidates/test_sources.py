"""Light-curve sources: MAST through lightkurve (recorded search result, no network), a local
folder, swapping the source in settings, and the fetch_lightcurves command."""
from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from tests.candidates.conftest import FITS_DIR, KOI
from vetting.candidates import services
from vetting.candidates.models import Candidate, LightCurve
from vetting.candidates.sources import LocalDirectorySource, MastLightCurveSource, SourceUnavailable, get_source

pytestmark = pytest.mark.django_db
FILE = "exohunt_example_10797460.fits"


class RecordedSearch:
    """What ``lightkurve.search_lightcurve`` returns, recorded from a real Kepler file:
    ``download_all`` gives a LightCurveCollection read from the shared data."""

    def __init__(self, paths, calls):
        self.paths, self.calls = paths, calls

    def __len__(self):
        return len(self.paths)

    def download_all(self, download_dir=None, **kwargs):
        import lightkurve as lk

        self.calls.append(("download_all", download_dir))
        return lk.LightCurveCollection([lk.read(str(p)) for p in self.paths]) if self.paths else None


@pytest.fixture
def recorded_mast(monkeypatch, shared_data):
    import lightkurve

    calls = []

    def search_lightcurve(target, **query):
        calls.append(("search", target, query))
        found = [shared_data / FITS_DIR / FILE] if target == "KIC 10797460" else []
        return RecordedSearch(found, calls)

    monkeypatch.setattr(lightkurve, "search_lightcurve", search_lightcurve)
    return calls


def test_mast_source_downloads_and_imports(recorded_mast, table_slice):
    services.import_catalog_file(path=table_slice(KOI, 2))
    koi = Candidate.objects.get(catalog_id="K00752.01")
    report = services.fetch_lightcurves(candidate=koi, source=MastLightCurveSource(), quarters=[1])
    assert recorded_mast[0] == ("search", "KIC 10797460", {"mission": "Kepler", "author": "Kepler", "quarter": [1]})
    assert report.counts["lightcurves_created"] == 1 and report.counts["products_computed"] == 2
    lc = LightCurve.objects.get()
    assert lc.source == "mast" and lc.quarter == 1
    koi.refresh_from_db()
    assert koi.view_array("global").shape == (201,)
    again = services.fetch_lightcurves(candidate=koi, source=MastLightCurveSource())
    assert again.counts["lightcurves_existing"] == 1 and LightCurve.objects.count() == 1


def test_mast_source_nothing_found(recorded_mast, make_candidate):
    cand = make_candidate("K99999.01", target_id="KIC 1")
    report = services.fetch_lightcurves(candidate=cand, source=MastLightCurveSource())
    assert any("no light curves found" in w for w in report.warnings) and not LightCurve.objects.exists()


def test_mast_failure_is_a_clear_error(monkeypatch, make_candidate):
    import lightkurve

    def offline(*args, **kwargs):
        raise ConnectionError("Name or service not known")

    monkeypatch.setattr(lightkurve, "search_lightcurve", offline)
    with pytest.raises(SourceUnavailable, match="MAST did not answer for KIC 5: Name or service"):
        services.fetch_lightcurves(candidate=make_candidate(target_id="KIC 5"), source=MastLightCurveSource())


def test_local_directory_source_via_settings(shared_data, table_slice):
    services.import_catalog_file(path=table_slice(KOI, 2))
    with override_settings(VETTING_LIGHTCURVE_SOURCE="vetting.candidates.sources.LocalDirectorySource",
                           VETTING_LIGHTCURVE_DIR=str(shared_data / FITS_DIR)):
        assert isinstance(get_source(), LocalDirectorySource)
        call_command("fetch_lightcurves", "--all-missing", "--limit", "1")
    # KIC 10797460 has two files (cache and example) of quarter 1; identical cadences fold once
    assert LightCurve.objects.filter(target__catalog_id="KIC 10797460").count() in {1, 2}
    assert Candidate.objects.get(catalog_id="K00752.02").global_view is not None


def test_fetch_command_needs_a_choice():
    with pytest.raises(CommandError):
        call_command("fetch_lightcurves")
