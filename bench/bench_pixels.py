"""Benchmark: pixel-level vetting on simulated target pixel files (BEBs found, planets kept).

Simulates candidates (classifier.synthetic) with their target pixel files
(classifier.synthetic_pixels: a blended EB's eclipses sit on a neighbour star, every other
class's signal on the target) and runs classifier.pixels.pixel_diagnostics on each. Prints, per
true class, the share whose verdict is "offset" (the difference-image test: offset >= 3 sigma)
and, as the baseline in the same run, the share flagged by the flux-weighted centroid motion
alone (shift >= 3 sigma, the older test that also moves for a planet whenever a neighbour shares
the aperture); plus the time per candidate.

Targets: >= 70 % of BEBs flagged; <= 2 % of planets (PC) flagged. The default seed (7) is not
the one the thresholds were chosen on (seed 1, ``--seed 1``).

Usage: python bench/bench_pixels.py [--quick] [--n N] [--seed S]
"""
from __future__ import annotations

import warnings
from collections import Counter, defaultdict

from _common import Stopwatch, Table, bench_parser, percentile

from classifier.pixels import OFFSET_SIGMA_THRESHOLD, PixelError, pixel_diagnostics
from classifier.synthetic import simulate_population
from classifier.synthetic_pixels import tpf_for_candidate

CLASSES = ("PC", "EB", "BEB", "V", "IS", "J")


def main() -> None:
    parser = bench_parser(__doc__, quick="120 candidates")
    parser.add_argument("--n", type=int, default=600, help="simulated candidates")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    n = 120 if args.quick else args.n
    warnings.simplefilter("ignore")
    total: Counter = Counter()
    flagged: Counter = Counter()
    shift_flagged: Counter = Counter()
    inconclusive: Counter = Counter()
    times: list[float] = []
    by_snr: dict[str, list] = defaultdict(list)
    # BEBs are 10 % of the default mix; weight them up so their share is measured on enough cases
    fractions = {"PC": 0.3, "EB": 0.1, "BEB": 0.3, "V": 0.1, "IS": 0.1, "J": 0.1}
    for sim in simulate_population(n, seed=args.seed, class_fractions=fractions):
        tpf = tpf_for_candidate(sim, seed=args.seed)
        total[sim.truth_class] += 1
        with Stopwatch() as sw:
            try:
                result = pixel_diagnostics(tpf.time, tpf.flux, period_days=sim.period_days, epoch=sim.epoch_bkjd,
                                           duration_hours=sim.duration_hours, target_px=tpf.target_px,
                                           aperture=tpf.aperture & 2 > 0, pixel_scale_arcsec=tpf.pixel_scale_arcsec)
            except PixelError:
                result = None
        times.append(sw.wall)
        if result is None or result.verdict == "inconclusive":
            inconclusive[sim.truth_class] += 1
        if result is None:
            continue
        flagged[sim.truth_class] += result.verdict == "offset"
        shift = result.metrics.get("centroid_shift_sigma")
        shift_flagged[sim.truth_class] += bool(shift is not None and shift >= OFFSET_SIGMA_THRESHOLD)
        by_snr[sim.truth_class].append((sim.snr, result.verdict))

    table = Table(("class", 6), ("n", 5, "d"), ("offset %", 9, ".1f"), ("shift-only %", 13, ".1f"),
                  ("inconclusive %", 15, ".1f"))
    print(f"bench_pixels: {n} simulated candidates, seed {args.seed}")
    table.header(note="(offset: difference-image verdict; shift-only: the baseline)")
    for code in CLASSES:
        if total[code]:
            table.row(code, total[code], 100 * flagged[code] / total[code], 100 * shift_flagged[code] / total[code],
                      100 * inconclusive[code] / total[code])
    beb = flagged["BEB"] / max(total["BEB"], 1)
    pc = flagged["PC"] / max(total["PC"], 1)
    beb_snr = [s for s, v in by_snr["BEB"] if v != "offset"]
    if beb_snr:
        print(f"BEBs not flagged: median catalog SNR {percentile(beb_snr, 50):.1f} (n={len(beb_snr)})")
    print(f"time per candidate: p50 {1000 * percentile(times, 50):.0f} ms, p95 {1000 * percentile(times, 95):.0f} ms")
    print(f"BEBs flagged {100 * beb:.1f} % (target >= 70 %): {'PASS' if beb >= 0.7 else 'FAIL'}")
    print(f"planets flagged {100 * pc:.1f} % (target <= 2 %): {'PASS' if pc <= 0.02 else 'FAIL'}")


if __name__ == "__main__":
    main()
