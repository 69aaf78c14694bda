"""Test data for the site pages: classifier versions, predictions, queue entries, plot payloads.

Built directly with the models (the learning services are another engineer's); the plot
payload and features come from the real ``classifier.products.lightcurve_products`` on a
simulated light curve.
"""
from __future__ import annotations

import functools

import numpy as np

from classifier.vocabulary import CLASS_CODES


@functools.lru_cache(maxsize=4)
def simulated_payload(truth_class: str = "PC", seed: int = 7) -> tuple[dict, dict]:
    """(plot payload, candidate fields incl. its ``features``) of a simulated candidate; computed
    once per session."""
    from classifier import synthetic
    from classifier.jsonutil import jsonable
    from classifier.periodogram import bls_search
    from classifier.products import lightcurve_products

    sim = synthetic.simulate_candidate(truth_class, np.random.default_rng(seed), candidate_id="SIM-000001.01")
    bls = bls_search(sim.time_bkjd, sim.flux, sim.flux_err, n_periods=2000)
    products = lightcurve_products(sim.time_bkjd, sim.flux, sim.flux_err, sim.quality, period_days=sim.period_days,
                                   epoch=sim.epoch_bkjd, duration_hours=sim.duration_hours, time_system="BKJD", bls=bls)
    fields = {"period_days": sim.period_days, "epoch": sim.epoch_bkjd, "duration_hours": sim.duration_hours,
              "depth_ppm": sim.depth_ppm, "snr": sim.snr, "simulated_truth": sim.truth_class,
              "features": jsonable(products.metrics)}
    return products.payload, fields


def make_version(name: str = "v1", *, active: bool = True):
    from vetting.learning.models import ClassifierVersion

    return ClassifierVersion.objects.create(
        name=name, artifact=f"models/{name}.skops", artifact_sha256="0" * 64, label_snapshot_hash="0" * 64,
        classes=list(CLASS_CODES), is_active=active, status="promoted" if active else "rejected")


def probabilities(top: str, p_top: float) -> dict[str, float]:
    rest = (1.0 - p_top) / (len(CLASS_CODES) - 1)
    return {c: (p_top if c == top else rest) for c in CLASS_CODES}


def make_prediction(candidate, version, *, top: str = "PC", p_top: float = 0.6, uncertainty: float = 0.5):
    from vetting.learning.models import Prediction

    probs = probabilities(top, p_top)
    per_model = {"forest": probabilities(top, min(1.0, p_top + 0.1)), "cnn": probabilities(top, max(0.0, p_top - 0.1))}
    return Prediction.objects.create(
        candidate=candidate, classifier_version=version, probabilities=probs, per_model=per_model,
        predicted_class=top, p_planet=probs["PC"], p_triage=probs["PC"] + probs["EB"] + probs["BEB"],
        uncertainty=uncertainty, disagreement=0.1)


def make_queue_entry(candidate, priority: float, strategy: str = "uncertainty", version=None):
    from vetting.learning.models import QueueEntry

    return QueueEntry.objects.create(candidate=candidate, priority=priority, strategy=strategy,
                                     classifier_version=version)
