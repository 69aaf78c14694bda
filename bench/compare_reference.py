"""Agreement of our fold/bin and vetting metrics with lightkurve and exovetter on real Kepler data.

For each light curve in ``kepler/lightcurves`` (``fits_index_with_labels.csv``) and each of its
KOIs (ephemeris from ``koi_cumulative_2019-01-20.csv``):

- fold/bin: our ``bin_curve`` (mean, 201 bins) vs lightkurve ``LightCurve.fold().bin(bins=201)``
  on the same detrended flux (lightkurve's bin edges, which start at the first folded point);
- odd/even: our ``odd_even_diff_ppm``/``odd_even_sigma`` vs exovetter ``OddEven(dur_frac=0.25)``.
  exovetter 0.0.16 folds at twice the period but measures its window in units of the single
  period, so ``dur_frac`` f keeps ``|t - t_mid| < f x duration`` (its default 0.3 is the
  central 60%): 0.25 is our window, the central half of the transit;
- secondary: our ``secondary_best_phase``/``secondary_best_sigma`` vs exovetter ``ModShift``.

exovetter's numbers are not on the same scale as ours (its odd/even error is the per-point
scatter, not the error of the mean; ModShift significances are model-convolved), so we report
correlations and median absolute differences, not equality. Reads ``VETTING_SHARED_DATA``
(default ``<repo>/../shared/data``).

Usage: python bench/compare_reference.py [--quick]
"""
from __future__ import annotations

import sys
import time
import warnings

import numpy as np
from _common import bench_parser, require_data, shared_data

from classifier import lightcurves as lcmod
from classifier.features import vetting_metrics


def _first_epoch(epoch: float, period: float, t0: float) -> float:
    """Move the epoch to the first transit at or after the start of the data (same ephemeris);
    exovetter drops every point before the epoch (np.fmod keeps the sign)."""
    return epoch + np.ceil((t0 - epoch) / period) * period


def _spearman(a, b) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3:
        return float("nan")
    ra = np.argsort(np.argsort(a[ok]))
    rb = np.argsort(np.argsort(b[ok]))
    return float(np.corrcoef(ra, rb)[0, 1])


def main() -> int:
    parser = bench_parser(__doc__, quick="the first 3 files only")
    args = parser.parse_args()
    data = shared_data()
    folder = data / "kepler" / "lightcurves"
    index_path = folder / "fits_index_with_labels.csv"
    if not require_data(index_path, "the Kepler light-curve index"):
        return 0
    warnings.simplefilter("ignore")
    import logging

    import astropy.units as u
    import lightkurve as lk
    import pandas as pd
    from astropy.time import Time

    logging.getLogger("lightkurve").setLevel(logging.ERROR)
    try:
        from exovetter import const as exo_const
        from exovetter import vetters
        from exovetter.tce import Tce
    except Exception as exc:  # report whatever stops exovetter
        print(f"exovetter unavailable ({exc}); comparing fold/bin with lightkurve only")
        vetters = None
    index = pd.read_csv(index_path)
    koi = pd.read_csv(data / "kepler" / "koi_cumulative_2019-01-20.csv", comment="#")
    koi = koi.set_index("kepoi_name")
    if args.quick:
        index = index.head(3)

    rows = []
    print(f"{'file':40s} {'KOI':10s} {'bin maxdiff':>11s} {'bin corr':>9s} "
          f"{'oe ours(ppm,sig)':>18s} {'oe exo(ppm,sig)':>17s} "
          f"{'sec ours(ph,sig)':>17s} {'sec exo(ph,sig)':>17s}")
    for _, row in index.iterrows():
        raw = lk.read(folder / row["file"], flux_column=row["flux_column"].lower())
        t = np.asarray(raw.time.value, float)
        f = np.asarray(raw.flux.value, float)
        e = np.asarray(raw.flux_err.value, float)
        q = np.asarray(raw.quality.value if hasattr(raw.quality, "value") else raw.quality)
        for name in str(row["kois"]).split(";"):
            if name not in koi.index:
                continue
            k = koi.loc[name]
            period, dur_h = float(k["koi_period"]), float(k["koi_duration"])
            try:
                lc = lcmod.prepare(t, f, e, q, period_days=period, epoch=float(k["koi_time0bk"]),
                                   duration_hours=dur_h)
            except lcmod.LightCurveError as exc:
                print(f"{row['file']:40s} {name:10s} cannot process: {exc}")
                continue
            epoch = _first_epoch(float(k["koi_time0bk"]), period, lc.time[0])
            rec = {"file": row["file"], "koi": name}
            # fold/bin vs lightkurve on the same detrended flux
            ref = lk.LightCurve(time=lc.time, flux=lc.flux).fold(
                period=period, epoch_time=epoch, normalize_phase=True).bin(bins=201)
            # lightkurve bins the phase range the data cover (fewer bins if the orbit is
            # longer than the data); use its edges and count
            centres = np.asarray(ref.time.value, float)
            half = 0.5 * np.mean(np.diff(centres))
            _, ours, _ = lcmod.bin_curve(
                lcmod.phase_fold(lc.time, period_days=period, epoch=epoch), lc.flux, n_bins=centres.size,
                x_range=(centres[0] - half, centres[-1] + half + 1e-12), statistic="mean")
            theirs = np.asarray(ref.flux.value, float)
            ok = np.isfinite(ours) & np.isfinite(theirs)
            rec["bin_maxdiff_ppm"] = float(np.max(np.abs(ours[ok] - theirs[ok]))) * 1e6
            rec["bin_corr"] = float(np.corrcoef(ours[ok], theirs[ok])[0, 1])
            m = vetting_metrics(lc.time, lc.flux, lc.flux_err, period_days=period, epoch=epoch,
                                duration_hours=dur_h)
            rec.update(oe_diff_ours=m["odd_even_diff_ppm"], oe_sig_ours=m["odd_even_sigma"],
                       odd_ours=m["odd_depth_ppm"], even_ours=m["even_depth_ppm"],
                       sec_phase_ours=m["secondary_best_phase"],
                       sec_sig_ours=m["secondary_best_sigma"])
            if vetters is not None:
                tce = Tce(period=period * u.day, epoch=epoch * u.day,
                          epoch_offset=exo_const.bkjd, depth=float(k["koi_depth"]) * exo_const.ppm,
                          duration=dur_h * u.hour, snr=float(k["koi_model_snr"]))
                # exovetter reads the time format to find the epoch offset: give it BKJD
                elc = lk.LightCurve(time=Time(lc.time, format="bkjd", scale="tdb"),
                                    flux=lc.flux, flux_err=lc.flux_err)
                try:
                    oe = vetters.OddEven(dur_frac=0.25).run(tce, elc)
                    # exovetter's "odd" transit is the epoch's (our cycle 0, "even") and its
                    # "depths" are |median flux| in transit, so our odd-minus-even depth is
                    # its odd_depth - even_depth flux level
                    rec["oe_diff_exo"] = (oe["odd_depth"][0] - oe["even_depth"][0]) * 1e6
                    rec["oe_sig_exo"] = abs(float(oe["oe_sigma"]))
                    if len(oe["odd_depth"]) == 2 and oe["odd_depth"][0] != 1:  # [1, 1]: no data
                        rec["odd_exo"] = (1.0 - oe["even_depth"][0]) * 1e6
                        rec["even_exo"] = (1.0 - oe["odd_depth"][0]) * 1e6
                except Exception as exc:
                    rec["oe_error"] = str(exc)
                try:
                    t0 = time.perf_counter()
                    ms = vetters.ModShift().run(tce, elc)
                    rec["modshift_s"] = time.perf_counter() - t0
                    rec["sec_phase_exo"] = float(ms["phase_sec"]) / period % 1.0
                    rec["sec_sig_exo"] = float(np.asarray(ms["sigma_sec"]))
                except Exception as exc:
                    rec["ms_error"] = str(exc)
            rows.append(rec)
            g = rec.get
            print(f"{row['file']:40s} {name:10s} {rec['bin_maxdiff_ppm']:11.3f} {rec['bin_corr']:9.6f} "
                  f"{g('oe_diff_ours'):9.0f},{g('oe_sig_ours'):7.1f} "
                  f"{g('oe_diff_exo', np.nan):9.0f},{g('oe_sig_exo', np.nan):6.2f} "
                  f"{g('sec_phase_ours'):8.3f},{g('sec_sig_ours'):7.1f} "
                  f"{g('sec_phase_exo', np.nan):8.3f},{g('sec_sig_exo', np.nan):7.1f}"
                  + (f"  exovetter error: {g('oe_error') or g('ms_error')}"
                     if g("oe_error") or g("ms_error") else ""))

    if not rows:
        print("no KOI could be compared")
        return 1
    col = {k: np.array([r.get(k, np.nan) for r in rows], float)
           for k in ("bin_maxdiff_ppm", "bin_corr", "oe_diff_ours", "oe_diff_exo", "oe_sig_ours",
                     "oe_sig_exo", "sec_phase_ours", "sec_phase_exo", "sec_sig_ours", "sec_sig_exo",
                     "odd_ours", "even_ours", "odd_exo", "even_exo")}
    print(f"\nKOIs compared: {len(rows)}")
    print(f"fold/bin vs lightkurve: median max|diff| {np.nanmedian(col['bin_maxdiff_ppm']):.3f} ppm, "
          f"worst {np.nanmax(col['bin_maxdiff_ppm']):.3f} ppm; min correlation {np.nanmin(col['bin_corr']):.6f}")
    d = col["oe_diff_ours"] - col["oe_diff_exo"]
    print(f"odd-even depth difference vs exovetter OddEven: "
          f"Spearman {_spearman(col['oe_diff_ours'], col['oe_diff_exo']):.2f}, "
          f"median |ours - exo| {np.nanmedian(np.abs(d)):.0f} ppm "
          f"(both the central half of the transit; exovetter: median, ours: mean)")
    ours_d = np.r_[col["odd_ours"], col["even_ours"]]
    exo_d = np.r_[col["odd_exo"], col["even_exo"]]
    both = np.isfinite(ours_d) & np.isfinite(exo_d)
    if both.sum() > 2:
        rel = np.abs(ours_d[both] - exo_d[both]) / np.maximum(np.abs(exo_d[both]), 1.0)
        print(f"odd and even depths vs exovetter OddEven: Pearson "
              f"{np.corrcoef(ours_d[both], exo_d[both])[0, 1]:.4f}, median |ours - exo| "
              f"{np.median(np.abs(ours_d[both] - exo_d[both])):.0f} ppm "
              f"({np.median(rel) * 100:.0f}% of the depth), {both.sum()} depths")
    print(f"odd-even significance: Spearman {_spearman(col['oe_sig_ours'], col['oe_sig_exo']):.2f} "
          f"(exovetter divides by the per-point scatter, we by the error of the mean)")
    dphase = np.abs((col["sec_phase_ours"] - col["sec_phase_exo"] + 0.5) % 1.0 - 0.5)
    print(f"secondary phase vs exovetter ModShift: median |dphase| {np.nanmedian(dphase):.3f} cycles, "
          f"{np.nanmean(dphase < 0.02) * 100:.0f}% within 0.02; significance Spearman "
          f"{_spearman(col['sec_sig_ours'], col['sec_sig_exo']):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
