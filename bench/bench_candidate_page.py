"""Time until the candidate page accepts a label, in headless Chromium on a cold cache.

What it does
------------
1. Creates a throwaway PostgreSQL database ``bench_candidate_page_<pid>`` (on
   ``BENCH_DATABASE_URL``), loads ``--candidates`` simulated demo candidates (default 20,
   ``manage.py load_demo``) with an active model's predictions (five model families, as the
   ``full`` training profile makes) and a logged-in vetter. Dropped at the end.
2. Serves the site with gunicorn (production's ``docker/gunicorn.conf.py``: 3 processes x 4
   threads; ``vetting.settings.test`` plus the static files
   settings of each variant, collected with ``collectstatic`` into a temporary folder) in turn for:

   * ``baseline``: the page as it was at commit ``BASELINE_COMMIT`` (its template, the full
     4.8 MB ``plotly.min.js`` bundle and its plots.js, read from git), served as the development
     and test servers served it: uncompressed, ``max-age=60``;
   * ``cartesian bundle``: the page as it was at commit ``CARTESIAN_COMMIT`` (its template, with
     the 1.5 MB ``plotly-cartesian.min.js`` partial bundle) with production static files;
   * ``new, plain static``: today's page and its 1.2 MB custom bundle (plotly core + scatter, bar,
     heatmap: ``static/vendor/README.md``), still uncompressed;
   * ``new, production static``: today's page with production's static storage
     (``CompressedManifestStaticFilesStorage``: gzip, content-hashed names, far-future cache).
3. For each variant, ``--loads`` page loads (default 20, one per candidate) each in a NEW browser
   context (empty cache), after one unmeasured warm-up load: from navigation start it presses
   ``1`` every few milliseconds until the first class is shown selected (the page's keyboard
   handler ran and the next frame was painted, timed by the page's own clock): "accepts a
   label". Also the time until the figures of the first screen (1280 x 900) are drawn, the
   bytes transferred and the plotly bundle's encoding and cache header.

Prints p50/p95/max per variant and PASS/FAIL for the target: p95 of "accepts a label" < 1000 ms
for the production variant. The machine's load average is printed with the figures (other
processes slow the browser).

Run::

    .venv/bin/python bench/bench_candidate_page.py            # 20 loads per variant, ~2-3 minutes
    .venv/bin/python bench/bench_candidate_page.py --quick    # 5 loads per variant
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import REPO, Table, bench_parser, django_database, django_env, login_session, percentile, script_name

#: The last commit with the full plotly.js bundle (the baseline page's template and scripts).
BASELINE_COMMIT = "fee83b5"
#: The last commit whose candidate page loaded the cartesian partial bundle (its template).
CARTESIAN_COMMIT = "e50dbc4"
CHROMIUM = "/usr/bin/chromium"
TARGET_MS = 1000.0
FAMILIES = ("hgb", "extra_trees", "logistic", "mlp", "gp")
PLAIN = "django.contrib.staticfiles.storage.StaticFilesStorage"
PRODUCTION = "whitenoise.storage.CompressedManifestStaticFilesStorage"


def _git_show(path: str, commit: str = BASELINE_COMMIT) -> bytes | None:
    try:
        return subprocess.run(["git", "show", f"{commit}:{path}"], cwd=REPO, capture_output=True,
                              check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None


def baseline_overrides(folder: Path, commit: str = BASELINE_COMMIT) -> tuple[Path, Path] | None:
    """Write an older page's template and static files (from git at ``commit``: the baseline's
    with its full bundle, or the cartesian-bundle page's) under ``folder``; returns
    ``(templates dir, static dir)``, or None when the commit is not in this clone."""
    paths = (["templates/candidates/detail.html", "static/vendor/plotly.min.js", "static/js/plots.js"]
             if commit == BASELINE_COMMIT else
             ["templates/candidates/detail.html", "static/vendor/plotly-cartesian.min.js", "static/js/plots.js"])
    files = {path: _git_show(path, commit) for path in paths}
    if any(v is None for v in files.values()):
        return None
    for rel, data in files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(data)
    return folder / "templates", folder / "static"


def populate(n: int) -> tuple[list[int], str]:
    """Demo candidates with predictions and a vetter; returns (candidate ids, session key)."""
    import random

    from django.contrib.auth.models import Group, User
    from django.core.management import call_command

    from classifier.vocabulary import CLASS_CODES
    from vetting.candidates.models import Candidate
    from vetting.learning.models import ClassifierVersion, Prediction

    call_command("load_demo", n=n, labels=0, verbosity=0)
    version = ClassifierVersion.objects.create(
        name="bench", artifact="models/bench.skops", artifact_sha256="0" * 64, label_snapshot_hash="0" * 64,
        classes=list(CLASS_CODES), is_active=True, status="promoted")
    rng = random.Random(0)

    def probs(top: str, p: float) -> dict[str, float]:
        return {c: (p if c == top else (1 - p) / (len(CLASS_CODES) - 1)) for c in CLASS_CODES}

    ids = []
    for c in Candidate.objects.order_by("pk"):
        top = c.simulated_truth if c.simulated_truth in CLASS_CODES else "PC"
        p = probs(top, rng.uniform(0.4, 0.95))
        Prediction.objects.create(candidate=c, classifier_version=version, probabilities=p,
                                  per_model={f: probs(top, rng.uniform(0.3, 0.95)) for f in FAMILIES},
                                  predicted_class=top, p_planet=p["PC"], p_triage=p["PC"] + p["EB"] + p["BEB"],
                                  uncertainty=rng.uniform(0.2, 0.8), disagreement=rng.uniform(0, 0.3))
        ids.append(c.pk)
    user = User.objects.create_user("bench-vetter", password="x")
    user.groups.add(Group.objects.get(name="vetter"))
    return ids, login_session(user)


def write_settings(folder: Path, name: str, storage: str, overrides: tuple[Path, Path] | None) -> str:
    """A settings module for one variant (the test settings plus its static files); returns its name."""
    module = f"bench_page_settings_{name}"
    lines = ["from vetting.settings.test import *  # noqa: F403",
             "from vetting.settings.test import STATICFILES_DIRS, TEMPLATES",
             f"STATIC_ROOT = {str(folder / ('static-' + name))!r}",
             "STORAGES = {'default': {'BACKEND': 'django.core.files.storage.FileSystemStorage'},",
             f"            'staticfiles': {{'BACKEND': {storage!r}}}}}"]
    if overrides is not None:
        templates, static = overrides
        lines += [f"STATICFILES_DIRS = [{str(static)!r}, *STATICFILES_DIRS]",
                  f"TEMPLATES = [dict(TEMPLATES[0], DIRS=[{str(templates)!r}, *TEMPLATES[0]['DIRS']])]"]
    (folder / f"{module}.py").write_text("\n".join(lines) + "\n")
    return module


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve(module: str, folder: Path, env: dict) -> tuple[subprocess.Popen, str]:
    """collectstatic for the variant, then gunicorn on a free port; returns (process, base URL)."""
    env = {**env, "DJANGO_SETTINGS_MODULE": module, "PYTHONPATH": f"{folder}{os.pathsep}{REPO}",
           "VETTING_LOG_LEVEL": "WARNING", "VETTING_TEST_CONN_MAX_AGE": "60"}  # production keeps connections
    subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"], cwd=REPO, env=env,
                   check=True)
    port = _free_port()
    # Production's arrangement (docker/gunicorn.conf.py: 3 processes x 4 threads), so the page's
    # parallel requests (stylesheet, scripts, the preloaded bundle) do not queue for a worker.
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", str(REPO / "docker" / "gunicorn.conf.py"),
                             "--bind", f"127.0.0.1:{port}", "--log-level", "warning", "--access-logfile", "/dev/null"],
                            cwd=REPO, env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("gunicorn did not start")


# The page's clock, not the bench's: the frame in which the chosen class is first shown (the
# key handler ran, then the browser painted), recorded in the page. Reading performance.now()
# from the bench's next evaluate() instead would add that call's own wait for the main thread,
# which no person pressing a key has to wait for.
_ACCEPT_CLOCK = """window.__accepted = null;
window.addEventListener('keydown', () => {  // window's bubble phase: after the page's handler
  const r = document.querySelector('input[data-key="1"]');
  if (window.__accepted === null && r && r.checked)
    requestAnimationFrame(() => { if (window.__accepted === null) window.__accepted = performance.now(); });
});"""
_ACCEPTED = "() => window.__accepted"
_DRAWN = """() => { const figs = [...document.querySelectorAll('[data-figure]')]
                        .filter(f => f.getBoundingClientRect().top < window.innerHeight);
                    const all = figs.length && figs.every(f => f.querySelector('.main-svg'));
                    return all ? performance.now() : null; }"""
_BYTES = """() => { const nav = performance.getEntriesByType('navigation')[0];
                    const res = performance.getEntriesByType('resource');
                    const plotly = res.find(r => r.name.includes('plotly'));
                    return [nav.transferSize + res.reduce((s, r) => s + r.transferSize, 0),
                            plotly ? plotly.transferSize : 0, plotly ? plotly.name : ''] }"""


_LONG_TASKS = """window.__longTasks = [];
try { new PerformanceObserver(l => l.getEntries().forEach(e => window.__longTasks.push([e.startTime, e.duration])))
        .observe({type: 'longtask', buffered: true}); } catch (e) {}"""
_TIMELINE = """() => { const nav = performance.getEntriesByType('navigation')[0];
                       const res = performance.getEntriesByType('resource').map(
                           r => [r.name.split('/').pop().slice(0, 24), r.startTime, r.responseEnd]);
                       return {response: nav.responseEnd, dcl: nav.domContentLoadedEventEnd,
                               domInteractive: nav.domInteractive, resources: res,
                               vetReady: Number(document.documentElement.dataset.vetReady || NaN),
                               long: window.__longTasks || []}; }"""


def load_once(browser, base: str, session_key: str, pk: int) -> dict:
    """One cold-cache load of candidate ``pk``: ms until a label key is accepted, until the
    first screen's figures are drawn, bytes transferred; and the timeline (response end,
    DOMContentLoaded, the main thread's long tasks) for ``--trace``."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.add_init_script(_LONG_TASKS + "\n" + _ACCEPT_CLOCK)
    context.add_cookies([{"name": "sessionid", "value": session_key, "url": base}])
    page = context.new_page()
    try:
        page.goto(f"{base}/candidates/{pk}/", wait_until="commit")
        accepted = None
        deadline = time.monotonic() + 30
        while accepted is None and time.monotonic() < deadline:
            try:
                page.keyboard.press("1")
                accepted = page.evaluate(_ACCEPTED)
            except Exception:  # the document is being replaced while it loads
                pass
            if accepted is None:
                time.sleep(0.005)
        drawn = page.wait_for_function(_DRAWN, timeout=30_000, polling=10).json_value()
        total, plotly, plotly_url = page.evaluate(_BYTES)
        return {"accepted": accepted, "drawn": drawn, "bytes": total, "plotly_bytes": plotly,
                "plotly_url": plotly_url, "timeline": page.evaluate(_TIMELINE)}
    finally:
        context.close()


def print_timelines(name: str, runs: list[dict]) -> None:
    """Each load's timeline in ms since navigation start (``--trace``): where the time went."""
    for r in runs:
        t = r["timeline"]
        tasks = ", ".join(f"{a:.0f}+{d:.0f}" for a, d in t["long"] if a < r["drawn"])
        files = ", ".join(f"{n} {a:.0f}-{b:.0f}" for n, a, b in t["resources"] if a < t["dcl"])
        print(f"    {name}: response {t['response']:.0f}, DOM interactive {t['domInteractive']:.0f}, "
              f"keys ready {t['vetReady']:.0f}, DOMContentLoaded {t['dcl']:.0f}, accepted {r['accepted']:.0f}, "
              f"drawn {r['drawn']:.0f}; long tasks {tasks}; files {files}")


def headers_of(url: str) -> str:
    """Content-Encoding and Cache-Control of a static file as a browser asking for gzip gets them."""
    import urllib.request

    req = urllib.request.Request(url, headers={"Accept-Encoding": "gzip, br"})
    with urllib.request.urlopen(req, timeout=10) as resp:  # our own loopback server
        return f"{resp.headers.get('Content-Encoding') or 'identity'}; {resp.headers.get('Cache-Control') or '-'}"


def main() -> int:
    parser = bench_parser(__doc__, quick="5 loads per variant (default 20)")
    parser.add_argument("--loads", type=int, default=None, help="measured loads per variant (default 20)")
    parser.add_argument("--candidates", type=int, default=20)
    parser.add_argument("--trace", action="store_true",
                        help="print each load's timeline: response end, DOMContentLoaded, long tasks (ms)")
    parser.add_argument("--only", default=None, help="run only the variants whose short name contains this "
                        "(baseline, cartesian, production, plain)")
    args = parser.parse_args()
    loads = args.loads or (5 if args.quick else 20)
    if not Path(CHROMIUM).exists():
        print(f"SKIP {script_name()}: headless Chromium not found at {CHROMIUM}")
        return 0
    from playwright.sync_api import sync_playwright

    folder = Path(tempfile.mkdtemp(prefix="bench-candidate-page-"))
    try:
        with django_database(f"bench_candidate_page_{os.getpid()}", settings="vetting.settings.test",
                             media=True) as url:
            ids, session_key = populate(args.candidates)
            overrides = baseline_overrides(folder / "baseline")
            variants = [("new, production static", "production", PRODUCTION, None),
                        ("new, plain static", "plain", PLAIN, None)]
            cartesian = baseline_overrides(folder / "cartesian", CARTESIAN_COMMIT)
            if cartesian is not None:
                variants.insert(0, (f"{CARTESIAN_COMMIT}: 1.5 MB bundle, production", "cartesian", PRODUCTION,
                                    cartesian))
            if overrides is None:
                print(f"note: commit {BASELINE_COMMIT} is not in this clone: no baseline row")
            else:
                variants.insert(0, (f"baseline ({BASELINE_COMMIT}: 4.8 MB bundle)", "baseline", PLAIN, overrides))
            env = {**os.environ, **django_env(url, "vetting.settings.test"),
                   "VETTING_MEDIA_ROOT": os.environ["VETTING_MEDIA_ROOT"]}
            table = Table(("variant", 34), ("label p50 ms", 12, ".0f"), ("label p95", 9, ".0f"),
                          ("max", 6, ".0f"), ("plots p50", 9, ".0f"), ("plots p95", 9, ".0f"),
                          ("kB moved", 8, ".0f"), ("plotly kB", 9, ".0f"))
            results = {}
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=[
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
                print(f"{loads} cold-cache loads per variant over {len(ids)} candidates; "
                      f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
                table.header()
                for title, name, storage, over in variants:
                    if args.only and args.only not in name:
                        continue
                    module = write_settings(folder, name, storage, over)
                    proc, base = serve(module, folder, env)
                    try:
                        load_once(browser, base, session_key, ids[0])  # warm-up (server processes)
                        runs = [load_once(browser, base, session_key, ids[i % len(ids)]) for i in range(loads)]
                        served = headers_of(runs[0]["plotly_url"])
                    finally:
                        proc.terminate()
                        proc.wait(timeout=20)
                    if args.trace:
                        print_timelines(name, runs)
                    acc = [r["accepted"] for r in runs]
                    drawn = [r["drawn"] for r in runs]
                    results[name] = percentile(acc, 95)
                    table.row(title, percentile(acc, 50), percentile(acc, 95), max(acc), percentile(drawn, 50),
                              percentile(drawn, 95), sum(r["bytes"] for r in runs) / len(runs) / 1024,
                              runs[0]["plotly_bytes"] / 1024, note=f"plotly.js served {served}")
                browser.close()
            if "production" not in results:
                return 0
            verdict = "PASS" if results["production"] < TARGET_MS else "FAIL"
            print(f"{verdict}: the page accepts a label after p95 {results['production']:.0f} ms with production "
                  f"static files (target < {TARGET_MS:.0f} ms)"
                  + (f"; baseline p95 {results['baseline']:.0f} ms" if "baseline" in results else "")
                  + (f"; cartesian-bundle page p95 {results['cartesian']:.0f} ms" if "cartesian" in results else ""))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
