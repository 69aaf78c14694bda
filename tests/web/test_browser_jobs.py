"""The queue page's progress box for a job accepted while the broker was unreachable, in headless
Chromium: it says the job was not sent yet, then shows progress once beat re-sent it (issue 12).
Screenshots go to test-results/ (gitignored)."""
from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # see tests/web/test_browser_vetting.py

CHROMIUM = "/usr/bin/chromium"
RESULTS = Path(__file__).resolve().parents[2] / "test-results"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"headless Chromium not found at {CHROMIUM}"),
]


@pytest.mark.django_db(transaction=True)
# django_db_setup first: the session-scoped live server then stops before the test database is dropped.
def test_progress_box_says_not_sent_until_the_job_is_resent(django_db_setup, live_server, vetter, make_candidate,
                                                            monkeypatch):
    sync_api = pytest.importorskip("playwright.sync_api")
    from django.core.files.base import ContentFile

    from vetting.candidates import services
    from vetting.candidates.models import ImportJob
    from vetting.learning.models import TrainingRun

    def dead_broker(name, args, **options):
        raise ConnectionRefusedError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr("vetting.core.jobs.publish", dead_broker)
    make_candidate("K00001.01")
    job = services.import_job_create(kind="catalog", upload=ContentFile(
        b"# koi\nkepid,kepoi_name,koi_disposition,koi_period\n1,K00001.01,CONFIRMED,2.4\n", name="koi.csv"))
    run = TrainingRun.objects.create(state="queued", trigger="api")
    assert job.task_id == "" and run.task_id == ""

    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
        page.set_default_timeout(15_000)
        try:
            page.goto(live_server.url + "/accounts/login/")
            page.fill("input[name=username]", vetter.username)
            page.fill("input[name=password]", "pw-vera")
            page.click("button[type=submit]")
            page.wait_for_url(re.compile(r".*/candidates/$"))
            box = page.locator(f'.progress[data-progress-url$="/jobs/import/{job.pk}/progress.json"]')
            box.locator('.progress-text:has-text("Not sent yet")').wait_for()
            assert box.get_attribute("data-sent") == "false"
            assert "broker unreachable; will be re-sent" in box.locator(".progress-text").inner_text()
            run_box = page.locator(f'.progress[data-progress-url$="/jobs/training/{run.pk}/progress.json"]')
            run_box.locator('.progress-text:has-text("Not sent yet")').wait_for()
            RESULTS.mkdir(exist_ok=True)
            page.locator("section.jobs").screenshot(path=str(RESULTS / "jobs-not-sent.png"))

            ImportJob.objects.filter(pk=job.pk).update(task_id="resent-by-beat")  # what beat does
            box.locator('.progress-text:has-text("queued (0%)")').wait_for()  # the next poll
            assert box.get_attribute("data-sent") == "true"
            page.locator("section.jobs").screenshot(path=str(RESULTS / "jobs-resent.png"))
        finally:
            page.goto("about:blank")
            browser.close()
    time.sleep(0.5)  # let the live server's request threads close their database connections
