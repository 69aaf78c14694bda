"""Take the documentation's screenshots from the real site.

Starts the demo site (``manage.py rundemo``: bundled Redis, Celery worker and beat, SQLite) with a
small demo (``VETTING_DEMO_SIZE``, default 100 here) in a throwaway ``VETTING_VAR_DIR``, waits for
the worker's first model, logs in as the demo users (``vetting/core/demo_users.py``) in headless
Debian Chromium through Playwright, and writes PNGs (1280 x 900 viewport) into ``docs/img/``:
the queue, a planet's, an eclipsing binary's (and an eccentric one's) and a blended eclipsing
binary's candidate page, the latter's pixel-level evidence and the EB's flags, the team
page, the learning curves, the adjudication queue (after opening a dispute through the
candidate page's form) and the admin's dispute list.

Usage, from the repository root::

    .venv/bin/python docs/screenshots.py [--demo-size 100] [--out docs/img] [--port 0]

The demo is simulated data (``classifier/synthetic.py``); nothing here reads or writes ``var/``.
"""
from __future__ import annotations

import argparse
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("VETTING_REPORT_BROWSER", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
VIEWPORT = {"width": 1280, "height": 900}
#: PNGs larger than this (bytes) are re-encoded with a reduced palette.
MAX_PNG_BYTES = 300_000


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait(predicate, timeout_s: float, what: str, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the demo site exited (code {proc.returncode}) while waiting for {what}")
        if predicate():
            return
        time.sleep(1.0)
    raise SystemExit(f"timed out after {timeout_s:.0f} s waiting for {what}")


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _query(db: Path, sql: str, args: tuple = ()) -> list[tuple]:
    if not db.exists():
        return []
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            return conn.execute(sql, args).fetchall()
    except sqlite3.OperationalError:  # tables not migrated yet, or locked for a moment
        return []


def _candidate_id(db: Path, truth: str, *, unlabeled_by: str, min_period_days: float = 0.0) -> int:
    """Id of a simulated candidate of true class ``truth`` that ``unlabeled_by`` has not labeled
    (the page then looks as it does before a vetter's call), preferring one with a prediction
    and a high SNR; periods below ``min_period_days`` are skipped (a contact binary's plots show
    little)."""
    rows = _query(db, "SELECT c.id FROM candidates_candidate c "
                      "LEFT JOIN learning_prediction p ON p.candidate_id = c.id "
                      "WHERE c.simulated_truth = ? AND c.period_days >= ? AND NOT EXISTS ("
                      "  SELECT 1 FROM reviews_label l JOIN auth_user u ON u.id = l.vetter_id "
                      "  WHERE l.candidate_id = c.id AND u.username = ?) "
                      "ORDER BY p.id IS NULL, c.snr DESC LIMIT 1", (truth, min_period_days, unlabeled_by))
    if not rows:
        raise SystemExit(f"no simulated candidate of class {truth!r} left unlabeled by {unlabeled_by} in the demo")
    return rows[0][0]


def _eccentric_eb(db: Path) -> int | None:
    """An EB whose strongest secondary eclipse is far from phase 0.5 (an eccentric orbit), if any."""
    rows = _query(db, "SELECT id FROM candidates_candidate WHERE simulated_truth = 'EB' "
                      "AND ABS(json_extract(features, '$.secondary_best_phase') - 0.5) > 0.05 "
                      "AND json_extract(features, '$.secondary_best_sigma') > 7 ORDER BY id LIMIT 1")
    return rows[0][0] if rows else None


def _disputable(db: Path, username: str) -> tuple[int, str]:
    """``(candidate id, class)`` of a candidate whose active-model prediction differs from
    ``username``'s current label (the class), so the dispute opened on it reads as a real one."""
    rows = _query(db, "SELECT l.candidate_id, l.label_class FROM reviews_label l "
                      "JOIN auth_user u ON u.id = l.vetter_id "
                      "JOIN learning_prediction p ON p.candidate_id = l.candidate_id "
                      "JOIN learning_classifierversion v ON v.id = p.classifier_version_id AND v.is_active "
                      "WHERE u.username = ? AND l.is_current AND p.predicted_class != l.label_class "
                      "ORDER BY l.label_class = 'EB' DESC, l.candidate_id LIMIT 1", (username,))
    if not rows:
        raise SystemExit(f"the model agrees with every label of {username}: no dispute to show")
    return rows[0]


def _shrink(path: Path) -> None:
    """Re-encode a large PNG with a 256-colour palette (screens have few colours)."""
    from PIL import Image

    if path.stat().st_size <= MAX_PNG_BYTES:
        return
    with Image.open(path) as img:
        small = img.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    small.save(path, optimize=True)


def _login(page, base: str, username: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", f"{username}-demo-pass")
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")


def _shoot(page, base: str, url: str, out: Path, *, full_page: bool = False, settle_s: float = 1.5) -> None:
    page.goto(base + url)
    page.wait_for_load_state("networkidle")
    time.sleep(settle_s)  # plotly draws after load
    page.screenshot(path=str(out), full_page=full_page)
    _shrink(out)
    print(f"  {out.relative_to(REPO) if out.is_relative_to(REPO) else out}: {out.stat().st_size / 1000:.0f} kB")


def _open_dispute(page, base: str, candidate_id: int, proposed: str) -> None:
    """Open a dispute of the model's prediction through the candidate page's form (so the
    adjudication queue has one)."""
    page.goto(f"{base}/candidates/{candidate_id}/")
    page.wait_for_load_state("networkidle")
    page.keyboard.press("d")
    page.select_option("#id_subject", "prediction")
    page.select_option("#id_proposed_class", proposed)
    page.fill("#id_reason", f"The plots say {proposed}: see the odd/even and secondary panels.")
    page.click("#dispute-form button[type=submit]")
    page.wait_for_load_state("networkidle")


def take(base: str, db: Path, out_dir: Path) -> None:
    from playwright.sync_api import sync_playwright

    # vetter2 labeled about half of the demo's seed candidates (vetting/reviews/demo.py), so their
    # queue has work and these pages show the state before a label.
    planet = _candidate_id(db, "PC", unlabeled_by="vetter2")
    binary = _candidate_id(db, "EB", unlabeled_by="vetter2", min_period_days=1.0)
    eccentric = _eccentric_eb(db)
    blended = _candidate_id(db, "BEB", unlabeled_by="vetter2")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            vetter = browser.new_context(viewport=VIEWPORT)
            page = vetter.new_page()
            _login(page, base, "vetter2")
            _shoot(page, base, "/candidates/", out_dir / "queue.png")
            _shoot(page, base, f"/candidates/{planet}/", out_dir / "candidate-planet.png")
            _shoot(page, base, f"/candidates/{binary}/", out_dir / "candidate-eb.png")
            if eccentric is not None:
                _shoot(page, base, f"/candidates/{eccentric}/", out_dir / "candidate-eccentric-eb.png")
            _shoot(page, base, f"/candidates/{blended}/", out_dir / "candidate-beb.png")
            page.goto(f"{base}/candidates/{blended}/#pixels")
            page.wait_for_timeout(1500)
            pixels = out_dir / "candidate-beb-pixels.png"
            page.locator("#pixels").screenshot(path=str(pixels))
            _shrink(pixels)
            print(f"  {pixels.name}: {pixels.stat().st_size / 1000:.0f} kB")
            page.goto(f"{base}/candidates/{binary}/")
            flags = out_dir / "candidate-flags.png"
            page.locator("section[aria-labelledby=metrics-h]").screenshot(path=str(flags))
            _shrink(flags)
            print(f"  {flags.name}: {flags.stat().st_size / 1000:.0f} kB")
            _open_dispute(page, base, *_disputable(db, "vetter2"))
            vetter.close()

            curator = browser.new_context(viewport=VIEWPORT)
            page = curator.new_page()
            _login(page, base, "curator")
            _shoot(page, base, "/reviews/team/", out_dir / "team.png")
            _shoot(page, base, "/learning/", out_dir / "learning-curves.png")
            _shoot(page, base, "/reviews/disputes/", out_dir / "adjudication.png")
            _shoot(page, base, "/admin/reviews/dispute/", out_dir / "admin-disputes.png")
            curator.close()
        finally:
            browser.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demo-size", type=int, default=int(os.environ.get("VETTING_DEMO_SIZE", 100)))
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "img")
    parser.add_argument("--port", type=int, default=0, help="0: a free port")
    parser.add_argument("--model-timeout", type=float, default=900, help="seconds to wait for the first model")
    args = parser.parse_args(argv)
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"Chromium not found at {CHROMIUM} (apt-get install chromium, or set VETTING_REPORT_BROWSER)")
    args.out.mkdir(parents=True, exist_ok=True)
    port = args.port or _free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="vetting-screens-") as var:
        env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
        env.update(DJANGO_SETTINGS_MODULE="vetting.settings.dev", VETTING_VAR_DIR=var,
                   VETTING_DEMO_SIZE=str(args.demo_size), PYTHONUNBUFFERED="1")
        db = Path(var) / "db.sqlite3"
        log = open(Path(var) / "rundemo.log", "w")  # closed in finally
        proc = subprocess.Popen([sys.executable, "manage.py", "rundemo", "--port", str(port),
                                 "--demo-size", str(args.demo_size)],
                                cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            print(f"demo site starting on {base} (log: {log.name})")
            _wait(lambda: _port_open(port), 600, "the web server", proc)
            _wait(lambda: bool(_query(db, "SELECT 1 FROM learning_classifierversion WHERE is_active")),
                  args.model_timeout, "the first model", proc)
            _wait(lambda: bool(_query(db, "SELECT 1 FROM learning_queueentry LIMIT 1")), 300, "the queue", proc)
            print("model active; taking screenshots")
            take(base, db, args.out)
        finally:
            os.killpg(proc.pid, signal.SIGINT)  # rundemo stops web, worker, beat and Redis in order
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
            log.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
