"""Demo data: simulated Kepler-like candidates stored exactly as a real import would.

``load_demo(n=2000, seed=42)``:

1. :func:`classifier.synthetic.simulate_population` draws ``n`` candidates (planets, EBs,
   blended EBs, variability, systematics, false alarms) with one quarter of long-cadence data
   each; the truth goes to ``Candidate.simulated_truth``.
2. Each light curve is normalised (:func:`~vetting.candidates.importers.lightcurves.normalised`),
   stored as ``.npz`` with its sha256, and its views, features and plot payload are computed by
   the same :func:`~vetting.candidates.importers.products.compute_products` the FITS import
   uses. That step dominates the time, so it runs in worker processes (``workers``, default
   one per core) while the main process simulates the next batch and writes to the database.

Seeded and reproducible: the same ``seed`` gives the same arrays (same hashes) and the same
products; loading twice adds nothing. The demo vetters' seed labels are the reviews app's
(:mod:`vetting.reviews.demo`).
"""
from __future__ import annotations

import logging
import os
from collections import Counter
from concurrent.futures import Executor, ProcessPoolExecutor

from django.core.files.base import ContentFile
from django.db import connections, transaction

from classifier.jsonutil import json_number
from vetting.candidates.features import FEATURE_FIELDS, features_set
from vetting.candidates.importers.errors import ImportReport
from vetting.candidates.importers.lightcurves import normalised
from vetting.candidates.importers.products import arrays_sha256, simulated_products
from vetting.candidates.importers.upsert import upsert_candidates, upsert_targets
from vetting.candidates.models import Candidate, LightCurve, Mission, SourceCatalog, TimeSystem

logger = logging.getLogger(__name__)

BATCH = 100
_STAR_FIELDS = ("teff_k", "logg_cgs", "radius_rsun", "mass_msun", "magnitude", "ra_deg", "dec_deg")


class _InProcess(Executor):
    """A serial executor (tests, one core, or inside a transaction where forking is unsafe)."""

    def map(self, fn, *iterables, **_):
        return map(fn, *iterables)


def _executor(workers: int | None) -> Executor:
    if workers is None:
        workers = os.cpu_count() or 1
    if workers <= 1 or any(conn.in_atomic_block for conn in connections.all()):
        return _InProcess()
    import multiprocessing

    # Import the heavy science stack once here so forked workers inherit it, and close the
    # database connections so no child ever shares a socket with the parent.
    import lightkurve  # noqa: F401

    import classifier.products  # noqa: F401

    connections.close_all()
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork"))


#: Stamp of the demo's simulated target pixel files (smaller than a mission stamp: the demo
#: keeps only the pixel products, and 9x9 holds the target, its neighbour and their PSFs).
DEMO_STAMP = (9, 9)


def _job(sim, seed: int = 42) -> dict:
    time, flux, flux_err, quality = normalised(sim.time_bkjd, sim.flux, sim.flux_err, sim.quality,
                                               what=f"simulated light curve {sim.candidate_id}")
    return {"pixels": {"candidate_id": sim.candidate_id, "truth_class": sim.truth_class, "seed": seed,
                       "magnitude": sim.magnitude, "dilution": sim.truth.get("dilution")},
            "time": time, "flux": flux, "flux_err": flux_err, "quality": quality,
            "period_days": sim.period_days, "epoch": sim.epoch_bkjd, "duration_hours": sim.duration_hours,
            "star": {k: getattr(sim, k) for k in ("teff_k", "logg_cgs", "radius_rsun", "mass_msun", "magnitude")},
            "catalog": {"depth_ppm": sim.depth_ppm, "snr": sim.snr}, "time_system": TimeSystem.BKJD.value}


def load_demo(*, n: int = 2000, seed: int = 42, workers: int | None = None, progress=None) -> ImportReport:
    """Load ``n`` simulated candidates (see the module docstring; the seed labels are written by
    :func:`vetting.reviews.demo.load_demo`, which calls this first)."""
    from classifier.synthetic import simulate_population

    if n < 0:
        raise ValueError("n must not be negative")
    report = ImportReport(kind="demo", source=f"simulate_population(n={n}, seed={seed})")
    executor = _executor(workers)
    sims = simulate_population(n, seed=seed)
    done = 0
    try:
        while True:
            batch = [sim for _, sim in zip(range(BATCH), sims)]
            if not batch:
                break
            jobs = [_job(sim, seed) for sim in batch]
            done_before = _already_loaded(batch, jobs)
            todo = [(sim, job) for sim, job in zip(batch, jobs) if sim.candidate_id not in done_before]
            report.counts["lightcurves_existing"] += len(batch) - len(todo)
            if todo:
                results = list(executor.map(_demo_products, [job for _, job in todo]))
                report.counts.update(_write_batch([sim for sim, _ in todo], [r[:3] for r in results], report,
                                                  pixels=[r[3] for r in results]))
            done += len(batch)
            if progress:
                progress(done, n)
    finally:
        executor.shutdown()
    report.counts["rows"] = done
    return report.finish()


def _already_loaded(batch, jobs) -> set[str]:
    """Candidates whose light curve (same content hash) and products are already stored: a re-run
    with the same seed skips them instead of recomputing identical products."""
    shas = {sim.candidate_id: arrays_sha256(job["time"], job["flux"], job["flux_err"], job["quality"])
            for sim, job in zip(batch, jobs)}
    stored = set(LightCurve.objects.filter(
        sha256__in=shas.values(), kind=LightCurve.Kind.TIMESERIES, candidate__catalog_id__in=list(shas),
        candidate__source_catalog=SourceCatalog.SIMULATED, candidate__plot_payload__isnull=False,
    ).values_list("candidate__catalog_id", "sha256"))
    return {cid for cid, sha in stored if shas.get(cid) == sha}


def _demo_products(job: dict):
    """Worker entry point: :func:`simulated_products` of the light curve, plus the pixel
    products (metrics, payload) of the candidate's simulated target pixel file. The TPF itself
    is not stored: 2,000 cubes would add gigabytes to a demo; its products are what pages show."""
    from classifier import pixels as pixmod
    from classifier.synthetic_pixels import tpf_for_light_curve
    from vetting.candidates.importers.tpf import diagnostics_payload

    spec = job.pop("pixels")
    arrays = {k: job[k] for k in ("time", "flux", "flux_err", "quality")}
    payload, sha, products = simulated_products(job)
    pixel = ({}, None)
    if not products.error:
        tpf = tpf_for_light_curve(**spec, **arrays, shape=DEMO_STAMP)
        try:
            result = pixmod.pixel_diagnostics(
                tpf.time, tpf.flux, period_days=job["period_days"], epoch=job["epoch"],
                duration_hours=job["duration_hours"], target_px=tpf.target_px, aperture=(tpf.aperture & 2) > 0,
                pixel_scale_arcsec=tpf.pixel_scale_arcsec)
            pixel = ({k: json_number(v) for k, v in result.metrics.items() if json_number(v) is not None},
                     diagnostics_payload(result, source={"mission": "simulated", "quarter": 1, "n_tpfs": 1,
                                                         "filename": f"{spec['candidate_id']} (simulated)"}))
        except pixmod.PixelError:
            pass
    return payload, sha, products, pixel


@transaction.atomic
def _write_batch(batch, results, report: ImportReport, pixels=None) -> Counter:
    counts: Counter = Counter()
    targets = {(Mission.SIMULATED, sim.star_id): {k: json_number(getattr(sim, k)) for k in _STAR_FIELDS}
               for sim in batch}
    target_pks, c = upsert_targets(targets, fields=list(_STAR_FIELDS))
    counts.update(c)
    objs = []
    pixels = pixels or [({}, None)] * len(batch)
    for sim, (_, _, products), (pixel_metrics, pixel_payload) in zip(batch, results, pixels):
        if products.error:
            report.warnings.append(f"{sim.candidate_id}: {products.error}")
        candidate = Candidate(
            target_id=target_pks[(Mission.SIMULATED, sim.star_id)], source_catalog=SourceCatalog.SIMULATED,
            catalog_id=sim.candidate_id, period_days=sim.period_days, epoch=sim.epoch_bkjd,
            epoch_system=TimeSystem.BKJD, duration_hours=sim.duration_hours, depth_ppm=json_number(sim.depth_ppm),
            snr=json_number(sim.snr), simulated_truth=sim.truth_class,
            catalog_features={k: v for k, v in {"period_days": sim.period_days, "duration_hours": sim.duration_hours,
                                                "depth_ppm": json_number(sim.depth_ppm),
                                                "snr": json_number(sim.snr)}.items()
                              if v is not None},
            global_view=products.global_view, local_view=products.local_view,
            plot_payload=products.plot_payload, pixel_payload=pixel_payload,
        )
        features_set(candidate, products.features | pixel_metrics)
        objs.append(candidate)
        counts["products_computed"] += 0 if products.error else 1
    pks, c = upsert_candidates(objs, fields=[
        "target", "period_days", "epoch", "epoch_system", "duration_hours", "depth_ppm", "snr", "simulated_truth",
        "catalog_features", "global_view", "local_view", *FEATURE_FIELDS, "plot_payload", "pixel_payload"])
    counts.update(c)
    # light curves: one per candidate (each has its own realisation), deduplicated by content hash
    shas = {sha for _, sha, _ in results}
    known = set(LightCurve.objects.filter(sha256__in=shas, kind=LightCurve.Kind.TIMESERIES)
                .values_list("target_id", "sha256"))
    new = []
    for sim, job_result in zip(batch, results):
        payload, sha, _ = job_result
        target_id = target_pks[(Mission.SIMULATED, sim.star_id)]
        if (target_id, sha) in known:
            counts["lightcurves_existing"] += 1
            continue
        row = LightCurve(target_id=target_id, candidate_id=pks[sim.candidate_id], kind=LightCurve.Kind.TIMESERIES,
                         mission=Mission.SIMULATED, quarter=1, cadence_s=29.4 * 60, flux_column="FLUX",
                         time_system=TimeSystem.BKJD, n_points=int(sim.time_bkjd.size), source="simulated",
                         original_filename=f"{sim.candidate_id}.npz", sha256=sha)
        row.target_id = target_id
        row.data.save(f"{sha[:16]}.npz", ContentFile(payload), save=False)
        new.append(row)
        known.add((target_id, sha))
    try:
        LightCurve.objects.bulk_create(new)
    except Exception:
        for row in new:  # no orphan files when the rows are not written
            row.data.delete(save=False)
        raise
    counts["lightcurves_created"] += len(new)
    return counts
