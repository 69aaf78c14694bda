"""The one-page vetting report: same figures and visibility rule as the candidate page, PDF and
PNG from headless Chromium, a clear 503 without a browser, a cache keyed by the content."""
from __future__ import annotations

import os
import shutil

import pytest
from django.test import override_settings
from django.urls import reverse

from tests.web.pagedata import make_prediction, make_version, simulated_payload
from vetting.core import reports
from vetting.reviews.models import Label

pytestmark = pytest.mark.django_db
needs_browser = pytest.mark.skipif(reports.browser() is None, reason="no headless Chromium (VETTING_REPORT_BROWSER)")


@pytest.fixture
def candidate(make_candidate, vetter2):
    payload, fields = simulated_payload("PC")
    cand = make_candidate(plot_payload=payload, **{k: v for k, v in fields.items() if k != "simulated_truth"})
    make_prediction(cand, make_version("v-report"), top="PC", p_top=0.8)
    Label.objects.create(candidate=cand, vetter=vetter2, label_class="EB", confidence=0.75)
    return cand


def test_report_html_uses_the_page_figures_and_the_visibility_rule(client, vetter, candidate):
    client.force_login(vetter)
    url = reverse("candidate-report", args=[candidate.pk, "html"])
    before = client.get(url).content.decode()
    assert 'data-figure="folded"' in before and 'data-figure="odd_even"' in before and "Flags (" in before
    assert "v-report predicts <strong>PC</strong>" in before
    assert "victor" not in before  # another vetter's label stays hidden until you label
    Label.objects.create(candidate=candidate, vetter=vetter, label_class="PC", confidence=1.0)
    after = client.get(url).content.decode()
    assert "victor" in after and "vera" in after


@override_settings(VETTING_REPORT_BROWSER="/nonexistent/chromium")
def test_no_browser_gives_a_clear_503_and_the_button_says_so(client, vetter, candidate):
    client.force_login(vetter)
    api = client.get(reverse("api:candidate-report", args=[candidate.pk, "pdf"]))
    error = api.json()["error"]  # the API's one error shape
    assert api.status_code == 503 and error["code"] == "report_unavailable"
    assert "chromium" in error["message"]
    site = client.get(reverse("candidate-report", args=[candidate.pk, "png"]))
    assert site.status_code == 503 and "VETTING_REPORT_BROWSER" in site.json()["detail"]
    page = client.get(reverse("candidate-detail", args=[candidate.pk])).content.decode()
    assert 'id="report-unavailable"' in page and "report.pdf" not in page


def test_api_rejects_unknown_formats_and_candidates(client, vetter, candidate):
    client.force_login(vetter)
    assert client.get(reverse("api:candidate-report", args=[candidate.pk, "gif"])).status_code == 404
    if reports.browser() is not None:
        assert client.get(reverse("api:candidate-report", args=[999999, "pdf"])).status_code == 404


@needs_browser
@pytest.mark.slow
def test_pdf_and_png_are_printed_and_cached(client, vetter, candidate, tmp_path, monkeypatch):
    client.force_login(vetter)
    page = client.get(reverse("candidate-detail", args=[candidate.pk])).content.decode()
    assert reverse("candidate-report", args=[candidate.pk, "pdf"]) in page
    calls = []
    real = reports.print_html
    monkeypatch.setattr(reports, "print_html", lambda html, fmt: calls.append(fmt) or real(html, fmt))
    pdf = client.get(reverse("api:candidate-report", args=[candidate.pk, "pdf"]))
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    body = b"".join(pdf.streaming_content) if pdf.streaming else pdf.content
    assert body.startswith(b"%PDF") and body.count(b"/Type /Page\n") + body.count(b"/Type/Page\n") <= 1
    png = client.get(reverse("candidate-report", args=[candidate.pk, "png"]))
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")
    again = client.get(reverse("api:candidate-report", args=[candidate.pk, "pdf"]))
    assert again.content == body and calls == ["pdf", "png"]  # the second PDF came from the cache
    out = os.environ.get("VETTING_REPORT_SAMPLE_DIR")
    if out:  # a copy to look at
        (tmp_path / "r.png").write_bytes(png.content)
        shutil.copy(tmp_path / "r.png", os.path.join(out, "report.png"))
        (tmp_path / "r.pdf").write_bytes(body)
        shutil.copy(tmp_path / "r.pdf", os.path.join(out, "report.pdf"))
