"""Benchmark: odd/even and secondary-eclipse verdicts before and after issue 18, on real Kepler
light curves and on simulated eccentric eclipsing binaries.

Before = the classifier of commit ``BASELINE_COMMIT`` (the code before the issue), extracted with
``git archive`` into a temporary folder and run in a subprocess (no sibling masking, Kepler
quality mask, white-noise odd/even errors, secondary box allowed half a duration after egress).
After = this checkout (``classifier.products.measure`` with the KOI's siblings masked). Both
verdicts use the same thresholds, :mod:`classifier.flags` (Robovetter / LEO-Vetter values, none
tuned on these files): before, the tertiary/positive dips and F_red did not exist, so only the
``sigma_sec - sigma_FA1 > 1`` part of the secondary test applies.

Real data: every (file, KOI) of ``kepler/lightcurves/fits_index_with_labels.csv`` with the
KOI's disposition. Simulated: eccentric EBs (e = 0.1-0.4, random argument of periastron) from
``classifier.synthetic``; "found" = the strongest secondary within one duration of the true
secondary phase at >= 3 sigma (after), or the phase-0.5 box of the old secondary panel at >= 3
sigma (before), among those whose true secondary would have an SNR >= 7.1.

Usage: python bench/bench_vetting_metrics.py [--quick] [--n-sim N]
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import tempfile
import warnings
from io import BytesIO
from pathlib import Path

import numpy as np
from _common import REPO, bench_parser, require_data, shared_data

#: The commit before issue 18's science changes (the "before" code path).
BASELINE_COMMIT = "fee83b5"
_KEYS = ("odd_even_sigma", "secondary_sigma", "secondary_best_phase", "secondary_best_sigma", "period_days",
         "duration_hours", "odd_depth_ppm", "even_depth_ppm", "depth_ppm", "planet_radius_rearth")

_OLD_SCRIPT = r"""
import json, sys, warnings
import numpy as np
warnings.simplefilter("ignore")
from classifier.products import measure
data = np.load(sys.argv[1], allow_pickle=False)
jobs = json.loads(str(data["jobs"]))
out = []
for i, job in enumerate(jobs):
    try:
        _, m = measure(data[f"t{i}"], data[f"f{i}"], data[f"e{i}"], data[f"q{i}"], **job)
        out.append({k: m.get(k) for k in KEYS})
    except Exception as exc:
        out.append({"error": str(exc)})
print(json.dumps(out))
"""


def _baseline_tree(dest: Path) -> bool:
    """Extract ``classifier/`` of :data:`BASELINE_COMMIT` into ``dest``; False if git cannot."""
    try:
        tar = subprocess.run(["git", "archive", BASELINE_COMMIT, "classifier"], cwd=REPO, capture_output=True,
                             check=True).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        print(f"cannot extract the baseline commit {BASELINE_COMMIT} ({exc}); no 'before' column")
        return False
    with tarfile.open(fileobj=BytesIO(tar)) as archive:
        archive.extractall(dest, filter="data")
    return True


def _old_metrics(tree: Path, arrays: list[tuple], jobs: list[dict]) -> list[dict]:
    """Metrics of the baseline code for each (time, flux, flux_err, quality) with its keywords."""
    npz = tree / "jobs.npz"
    payload = {"jobs": json.dumps(jobs)}
    for i, (t, f, e, q) in enumerate(arrays):
        payload.update({f"t{i}": t, f"f{i}": f, f"e{i}": np.nan_to_num(e, nan=np.nan), f"q{i}": q})
    np.savez(npz, **payload)
    env = {**os.environ, "PYTHONPATH": str(tree)}
    script = _OLD_SCRIPT.replace("KEYS", repr(_KEYS))
    run = subprocess.run([sys.executable, "-c", script, str(npz)], cwd=tree, env=env, capture_output=True,
                         text=True, check=True)
    return json.loads(run.stdout)


def _verdict(metrics: dict, flag: str) -> str:
    from classifier.flags import evaluate

    if "error" in metrics:
        return "error"
    passed = next(r.passed for r in evaluate(metrics) if r.name == flag)
    return {True: "pass", False: "FAIL", None: "n/a"}[passed]


def _real(data: Path, tree: Path | None) -> None:
    from classifier.products import measure
    from tests.classifier.kepler_files import koi_cases

    cases = koi_cases(data)
    after = []
    for c in cases:
        _, m = measure(c.time, c.flux, c.flux_err, c.quality, star=c.star, mission="kepler", siblings=c.siblings,
                       **c.ephemeris)
        after.append(m)
    before = [{}] * len(cases)
    if tree is not None:
        before = _old_metrics(tree, [(c.time, c.flux, c.flux_err, c.quality) for c in cases],
                              [{**c.ephemeris, "star": c.star} for c in cases])
    print(f"{'file':30s} {'KOI':10s} {'disposition':15s} | {'odd/even before':>16s} {'after':>12s} | "
          f"{'secondary before':>22s} {'after':>22s}")
    fails = {"before": {"CONFIRMED": 0, "FALSE POSITIVE": 0}, "after": {"CONFIRMED": 0, "FALSE POSITIVE": 0}}
    counts = {"CONFIRMED": 0, "FALSE POSITIVE": 0}
    for c, b, a in zip(cases, before, after, strict=True):
        def oe(m):
            return f"{m.get('odd_even_sigma', np.nan) or np.nan:5.2f} {_verdict(m, 'odd_even'):>4s}" if m else "-"

        def sec(m):
            if not m:
                return "-"
            return (f"{m.get('secondary_best_sigma') or np.nan:5.1f}@{m.get('secondary_best_phase') or np.nan:.3f} "
                    f"{_verdict(m, 'secondary'):>4s}")

        print(f"{c.file[:30]:30s} {c.koi:10s} {c.disposition:15s} | {oe(b):>16s} {oe(a):>12s} | "
              f"{sec(b):>22s} {sec(a):>22s}")
        if c.disposition in counts:
            counts[c.disposition] += 1
            for when, m in (("before", b), ("after", a)):
                if m and "FAIL" in (_verdict(m, "odd_even"), _verdict(m, "secondary")):
                    fails[when][c.disposition] += 1
    for when in ("before", "after"):
        if when == "before" and tree is None:
            continue
        print(f"{when}: confirmed planets failing odd/even or secondary: {fails[when]['CONFIRMED']} of "
              f"{counts['CONFIRMED']}; false positives failing: {fails[when]['FALSE POSITIVE']} of "
              f"{counts['FALSE POSITIVE']} (file/KOI pairs)")


def _simulated(n: int, tree: Path | None) -> None:
    from classifier.products import measure
    from classifier.synthetic import simulate_candidate

    rng = np.random.default_rng(20260118)
    sims = [simulate_candidate("EB", rng, eb_eccentricity=float(rng.uniform(0.1, 0.4)),
                               candidate_id=f"SIM-ECC-{i:04d}.01") for i in range(n)]
    jobs = [{"period_days": s.period_days, "epoch": s.epoch_bkjd, "duration_hours": s.duration_hours} for s in sims]
    after = [measure(s.time_bkjd, s.flux, s.flux_err, s.quality, **j)[1] for s, j in zip(sims, jobs, strict=True)]
    before = _old_metrics(tree, [(s.time_bkjd, s.flux, s.flux_err, s.quality) for s in sims], jobs) if tree else None
    detectable = found_after = flag_after = found_before = found_before_best = off_half = 0
    for i, (s, a) in enumerate(zip(sims, after, strict=True)):
        width = s.duration_hours / 24.0 / s.period_days
        truth = s.truth["secondary_phase"]
        sec_depth = s.truth["light_ratio"] / (1.0 + s.truth["light_ratio"])
        n_in = max(a["n_points_in_transit"], 1.0)
        if not sec_depth / (a["noise_ppm"] * 1e-6 / np.sqrt(n_in)) >= 7.1:
            continue
        detectable += 1
        off_half += abs(truth - 0.5) > width
        near = abs((a["secondary_best_phase"] - truth + 0.5) % 1.0 - 0.5) < width
        found_after += bool(near and a["secondary_best_sigma"] >= 3)
        flag_after += _verdict(a, "secondary") == "FAIL" or _verdict(a, "odd_even") == "FAIL"
        if before:
            b = before[i]
            found_before += bool(b.get("secondary_sigma") is not None and b["secondary_sigma"] >= 3)
            near_b = b.get("secondary_best_phase") is not None and \
                abs((b["secondary_best_phase"] - truth + 0.5) % 1.0 - 0.5) < width
            found_before_best += bool(near_b and b["secondary_best_sigma"] >= 3)
    print(f"\nsimulated eccentric EBs: {n}, with a detectable secondary (true SNR >= 7.1): {detectable}, "
          f"of which {off_half} away from phase 0.5 by more than a duration")
    if detectable:
        if before:
            print(f"before: old secondary panel (phase-0.5 box >= 3 sigma) shows it for {found_before} "
                  f"({found_before / detectable:.0%}); old best-secondary metric at the right phase >= 3 sigma: "
                  f"{found_before_best} ({found_before_best / detectable:.0%})")
        print(f"after: strongest secondary at the right phase >= 3 sigma (what the panel is centred on): "
              f"{found_after} ({found_after / detectable:.0%}); failing the secondary or odd/even flag: "
              f"{flag_after} ({flag_after / detectable:.0%})")


def main() -> int:
    parser = bench_parser(__doc__, quick="20 simulated EBs (default 200)")
    parser.add_argument("--n-sim", type=int, default=200, help="simulated eccentric EBs")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    n_sim = 20 if args.quick else args.n_sim
    data = shared_data()
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) if _baseline_tree(Path(tmp)) else None
        if require_data(data / "kepler" / "lightcurves" / "fits_index_with_labels.csv", "the Kepler light curves"):
            _real(data, tree)
        _simulated(n_sim, tree)
    return 0


if __name__ == "__main__":
    sys.exit(main())
