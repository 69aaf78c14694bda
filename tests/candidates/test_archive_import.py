"""Catalog tables from the NASA Exoplanet Archive: real slices, re-imports, bad files and rows."""
from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from tests.candidates.conftest import DR24, KOI, TOI
from vetting.candidates import services
from vetting.candidates.importers.errors import BadFileError
from vetting.candidates.models import Candidate, Target
from vetting.reviews.models import Consensus, Label, LabelSource

pytestmark = pytest.mark.django_db


def test_koi_slice_maps_columns_units_and_ids(table_slice):
    path = table_slice(KOI, 200)
    report = services.import_catalog_file(path=path)
    assert report.ok, report.errors
    assert report.counts["candidates_created"] == 200
    koi = Candidate.objects.select_related("target").get(catalog_id="K00752.01")
    assert koi.source_catalog == "koi" and koi.target.catalog_id == "KIC 10797460"
    assert koi.target.mission == "kepler"
    assert koi.period_days == pytest.approx(9.48803557)
    assert koi.epoch == pytest.approx(170.53875) and koi.epoch_system == "BKJD"
    assert koi.duration_hours == pytest.approx(2.9575) and koi.depth_ppm == pytest.approx(615.8)
    assert koi.catalog_disposition == "CONFIRMED" and koi.catalog_score == pytest.approx(1.0)
    assert koi.catalog_features["koi_model_snr"] == pytest.approx(35.8)
    assert koi.target.teff_k == pytest.approx(5455.0) and koi.target.ra_deg == pytest.approx(291.93423)
    assert not Label.objects.exists()  # no catalog labels unless asked


def test_reimport_updates_never_duplicates(table_slice):
    path = table_slice(KOI, 150)
    services.import_catalog_file(path=path, with_catalog_labels=True)
    counts = (Target.objects.count(), Candidate.objects.count(), Label.objects.count())
    second = services.import_catalog_file(path=path, with_catalog_labels=True)
    assert (Target.objects.count(), Candidate.objects.count(), Label.objects.count()) == counts
    assert second.counts["candidates_created"] == 0 and second.counts["candidates_updated"] == 150
    assert second.counts["labels_created"] == 0 and second.counts["labels_unchanged"] == counts[2]


def test_koi_catalog_labels_follow_fp_flags(table_slice):
    path = table_slice(KOI, 300)
    services.import_catalog_file(path=path, with_catalog_labels=True)
    labels = {label.candidate.catalog_id: label
              for label in Label.objects.select_related("candidate").filter(is_current=True)}
    assert labels["K00752.01"].label_class == "PC" and labels["K00752.01"].source == LabelSource.CATALOG
    fps = Candidate.objects.filter(catalog_disposition="FALSE POSITIVE")
    assert fps.exists()
    for cand in fps:
        f = cand.catalog_features
        expected = ("BEB" if f.get("koi_fpflag_co") else "EB" if f.get("koi_fpflag_ss") else
                    "J" if f.get("koi_fpflag_nt") or f.get("koi_fpflag_ec") else None)
        got = labels.get(cand.catalog_id)
        assert (got.label_class if got else None) == expected, cand.catalog_id


def test_changed_disposition_supersedes_catalog_label_and_keeps_history(table_slice):
    path = table_slice(KOI, 5)
    services.import_catalog_file(path=path, with_catalog_labels=True)
    first = Label.objects.get(candidate__catalog_id="K00752.01", is_current=True)
    edited = table_slice(
        KOI, 5,
        edit=lambda i, line: line.replace(
            "CONFIRMED,CANDIDATE,1.0000,0,0,0,0", "FALSE POSITIVE,FALSE POSITIVE,0.0,0,1,0,0",
        ) if i == 0 else line,
        name="koi_edit.csv",
    )
    services.import_catalog_file(path=edited, with_catalog_labels=True)
    rows = Label.objects.filter(candidate__catalog_id="K00752.01", source=LabelSource.CATALOG)
    assert rows.count() == 2
    current = rows.get(is_current=True)
    assert current.label_class == "EB" and current.supersedes_id == first.pk
    assert current.history.exists()


def test_catalog_labels_update_consensus_when_catalog_counts(settings, table_slice):
    settings.VETTING_INCLUDE_CATALOG_LABELS = True
    services.import_catalog_file(path=table_slice(KOI, 20), with_catalog_labels=True)
    consensus = Consensus.objects.get(candidate__catalog_id="K00752.01")
    assert consensus.label_class == "PC" and consensus.method == "catalog"


def test_dr24_tce_ids_and_labels(table_slice):
    report = services.import_catalog_file(path=table_slice(DR24, 200), with_catalog_labels=True)
    assert report.ok and report.source.endswith("(dr24_tce)")
    tce = Candidate.objects.get(catalog_id="TCE 1292087-02")
    assert tce.source_catalog == "dr24_tce" and tce.catalog_disposition == "UNK"
    assert not tce.labels.exists()  # UNK has no label
    by_disp = {
        d: set(Label.objects.filter(candidate__catalog_disposition=d).values_list("label_class", flat=True))
        for d in ("PC", "AFP", "NTP")
    }
    assert by_disp["PC"] <= {"PC"} and by_disp["AFP"] <= {"EB"} and by_disp["NTP"] <= {"J"}
    assert any(by_disp.values())


def test_toi_keeps_bjd_epoch_and_hours(table_slice):
    report = services.import_catalog_file(path=table_slice(TOI, 100), with_catalog_labels=True)
    assert report.ok
    toi = Candidate.objects.select_related("target").get(catalog_id="TOI-1000.01")
    assert toi.target.catalog_id == "TIC 50365310" and toi.target.mission == "tess"
    assert toi.epoch == pytest.approx(2459229.630046) and toi.epoch_system == "BJD"
    assert toi.duration_hours == pytest.approx(2.0172196) and toi.depth_ppm == pytest.approx(656.8860989)
    # FP -> J ("other"): the TOI table does not say it is an EB (dispositions.TOI_TO_CLASS)
    assert toi.labels.get().label_class == "J"
    assert not Label.objects.filter(candidate__catalog_disposition="PC").exists()  # unresolved: no label
    assert not Label.objects.filter(candidate__catalog_disposition="APC").exists()


def test_bad_row_in_the_middle_is_named_and_good_rows_kept(table_slice):
    path = table_slice(KOI, 50, edit=lambda i, line: line.replace(",9.488035570,", ",nine,") if i == 0 else line)
    # make a middle row bad: row 25 gets a non-numeric period
    lines = path.read_text().splitlines(keepends=True)
    n_comments = sum(1 for line in lines if line.startswith("#"))
    middle = n_comments + 1 + 25  # 0-based index of data row 25
    cells = lines[middle].split(",")
    cells[11] = "abc"  # koi_period
    lines[middle] = ",".join(cells)
    path.write_text("".join(lines))
    report = services.import_catalog_file(path=path)
    texts = [str(e) for e in report.errors]
    assert len(texts) == 2
    assert f"line {n_comments + 2}" in texts[0] and "'koi_period'" in texts[0] and "'nine' is not a number" in texts[0]
    assert f"line {middle + 1}" in texts[1] and "'abc'" in texts[1]
    assert Candidate.objects.count() == 48


def test_command_reports_rejected_rows(table_slice):
    path = table_slice(KOI, 10, edit=lambda i, line: line.replace(",9.488035570,", ",-1,") if i == 0 else line)
    with pytest.raises(CommandError, match="1 row"):
        call_command("import_catalog", str(path))
    assert Candidate.objects.count() == 9


@pytest.mark.parametrize("content, message", [
    ("", "empty"),
    ("# only a comment\n", "empty"),
    ("a,b,c\n1,2,3\n", "cannot tell which archive table"),
    ("kepid,kepoi_name,koi_period\n1,K1.01,3\n", "missing required column"),
    ("kepid,kepoi_name,koi_disposition,koi_period,koi_time0bk,koi_duration\n", "no data rows"),
    ("\x89PNG\r\n\x1a\n\x00\x00binary", "not a text CSV"),
])
def test_bad_files_write_nothing(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_bytes(content.encode("latin-1"))
    with pytest.raises(BadFileError, match=message):
        services.import_catalog_file(path=path)
    assert not Target.objects.exists() and not Candidate.objects.exists()
