"""Writes for injected known-answer candidates (services: keyword-only, atomic per candidate).

:func:`known_answers_inject` makes ``n`` new candidates, each a simulated planet or eclipsing
binary (:func:`classifier.injection.draw_injection`) multiplied into a stored light curve of a
real star -- imported FITS or MAST light curves first; the demo's simulated light curves only
when no real one is stored, so the demo has checks too. Each gets:

* a target that copies the donor star's parameters (a new row: the donor's own candidates never
  see the injected signal in their products) and a catalog id in the donor's format (its digits
  redrawn), the light curve stored like any import, and views, features and the plot computed by
  the same :func:`~vetting.candidates.importers.lightcurves.products_for` as every candidate;
* a :class:`~vetting.reviews.models.KnownAnswer` (source ``injected``: true class, expected SNR,
  model parameters, donor light curve) and a closed :class:`CandidateReview` flagged
  ``is_known_answer``, so it reaches vetters only as their known-answer share of the queue.

Nothing a vetter sees says it is injected. Donors are preferred where the star shows no other
signal (a candidate whose class is known to be noise or systematics), so the true class of the
injected candidate is the only signal's class. Known limits: the injected target has no target
pixel file, and a later import of a real object with the same (redrawn) catalog id would meet it.
"""
from __future__ import annotations

import logging
import re
from collections import Counter

import numpy as np
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q

from classifier.injection import InjectionError, draw_injection, measure_box
from classifier.jsonutil import json_number
from vetting.candidates.importers.lightcurves import (
    PRODUCT_FIELDS,
    STAR_FIELDS,
    LightCurveArrays,
    apply_products,
    candidate_inputs,
    products_for,
    store_lightcurve,
)
from vetting.candidates.models import Candidate, LightCurve, Mission, SourceCatalog, Target
from vetting.reviews.models import CandidateReview, KnownAnswer, KnownAnswerSource

logger = logging.getLogger("vetting.reviews")

#: Share of injected candidates that are planets (the rest eclipsing binaries).
PLANET_SHARE = 0.6
#: Expected SNR range of injected signals (log-uniform): from below a pipeline's 7.1 threshold
#: to unmistakable, so recall can be read against SNR as Kepler's injection tests do.
SNR_RANGE = (5.0, 60.0)
#: Classes of a donor's own candidates that leave the star "quiet" enough to carry a check.
QUIET_CLASSES = ("J", "IS")


def _donors(*, rng: np.random.Generator) -> list[LightCurve]:
    """Stored time series that may carry an injection, best first: real ones before simulated
    ones, quiet stars first, never a light curve of an injected candidate; shuffled per seed."""
    rows = list(LightCurve.objects.filter(kind=LightCurve.Kind.TIMESERIES)
                .exclude(target__candidates__known_answer__source=KnownAnswerSource.INJECTED)
                .select_related("target").order_by("pk").distinct())
    if not rows:
        return []
    quiet = set(Candidate.objects.filter(
        Q(simulated_truth__in=QUIET_CLASSES) | Q(consensus__label_class__in=QUIET_CLASSES)
    ).values_list("target_id", flat=True))
    loud = set(Candidate.objects.filter(
        Q(simulated_truth__in=("PC", "EB", "BEB")) | Q(consensus__label_class__in=("PC", "EB", "BEB"))
    ).values_list("target_id", flat=True))
    order = rng.permutation(len(rows))
    return sorted((rows[i] for i in order), key=lambda lc: (
        lc.mission == Mission.SIMULATED, lc.target_id not in quiet, lc.target_id in loud))


def _lookalike(template: str, rng: np.random.Generator, taken) -> str:
    """``template`` with its first run of digits redrawn one digit longer and led by a 9 (a suffix
    such as a planet number ``.01`` is kept), not in ``taken``.

    Longer and led by 9 puts the id past the end of the real catalog it imitates (KIC ends near
    13.2 million, TIC near 2.8 billion, KOI below K10000, TOI below 10000), so a later import of
    a real object can never land on an injected target or candidate."""
    for _ in range(100):
        value = re.sub(r"\d+", lambda m: "9" + "".join(
            str(d) for d in rng.integers(0, 10, len(m.group()))), template, count=1)
        if value not in taken(value):
            return value
    raise InjectionError(f"no free catalog id like {template!r}")


def _donor_candidate(lc: LightCurve) -> Candidate | None:
    return (lc.candidate if lc.candidate_id else
            Candidate.objects.filter(target_id=lc.target_id).order_by("pk").first())


@transaction.atomic
def _inject_one(*, donor: LightCurve, true_class: str, snr: float, rng: np.random.Generator) -> Candidate:
    arrays = donor.load_arrays()
    star = {k: getattr(donor.target, k) for k in STAR_FIELDS}
    injected = draw_injection(rng, arrays["time"], arrays["flux"], arrays["flux_err"], true_class=true_class,
                              snr=snr, star=star)
    truth = injected.truth
    model = _donor_candidate(donor)
    catalog = model.source_catalog if model else SourceCatalog.SIMULATED
    target_id = _lookalike(donor.target.catalog_id, rng, lambda v: set(
        Target.objects.filter(mission=donor.target.mission, catalog_id=v).values_list("catalog_id", flat=True)))
    target = Target(mission=donor.target.mission, catalog_id=target_id, **star)
    target.full_clean()
    target.save()
    template = model.catalog_id if model else f"{target_id}.01"
    catalog_id = _lookalike(template, rng, lambda v: set(
        Candidate.objects.filter(source_catalog=catalog, catalog_id=v).values_list("catalog_id", flat=True)))
    depth, measured_snr = measure_box(injected.time, injected.flux, period_days=truth.period_days,
                                      epoch=truth.epoch, duration_hours=truth.duration_hours)
    candidate = Candidate(
        target=target, source_catalog=catalog, catalog_id=catalog_id, period_days=truth.period_days,
        epoch=truth.epoch, epoch_system=donor.time_system, duration_hours=truth.duration_hours,
        depth_ppm=json_number(depth * 1e6), snr=json_number(measured_snr),
        # a simulated donor's candidates show their truth once labeled; so does this one
        simulated_truth=true_class if catalog == SourceCatalog.SIMULATED else "",
    )
    candidate.catalog_features = {k: v for k, v in {
        "period_days": candidate.period_days, "duration_hours": candidate.duration_hours,
        "depth_ppm": candidate.depth_ppm, "snr": candidate.snr}.items() if v is not None}
    candidate.full_clean()
    candidate.save()
    lc = LightCurveArrays(
        time=injected.time, flux=injected.flux.astype("<f4"), flux_err=injected.flux_err.astype("<f4"),
        quality=arrays["quality"], mission=donor.mission, target_catalog_id=target_id, time_system=donor.time_system,
        quarter=donor.quarter, sector=donor.sector, cadence_s=donor.cadence_s, flux_column=donor.flux_column,
        source=donor.source)
    store_lightcurve(target=target, lc=lc, candidate=candidate)
    products = products_for(candidate_inputs(candidate), lc.time, lc.flux, lc.flux_err, lc.quality, lc.time_system)
    if products.error:
        raise InjectionError(f"products of the injected light curve failed: {products.error}")
    apply_products(candidate, products)
    candidate.save(update_fields=PRODUCT_FIELDS)
    CandidateReview.objects.create(candidate=candidate, labels_wanted=1, is_open=False, is_known_answer=True)
    params = truth.as_dict() | {"donor_lightcurve_id": donor.pk, "donor_target": donor.target.catalog_id}
    KnownAnswer(candidate=candidate, source=KnownAnswerSource.INJECTED, true_class=true_class,
                injected_snr=float(truth.expected_snr), parameters=params).save()
    return candidate


def known_answers_inject(*, n: int, seed: int = 0, planet_share: float = PLANET_SHARE,
                         snr_range: tuple[float, float] = SNR_RANGE, top_up: bool = False) -> Counter:
    """Make ``n`` injected known-answer candidates (``top_up``: only as many as are missing to
    have ``n``). Returns counts: ``known_answers_injected``, ``known_answers_existing``,
    ``known_answers_failed`` (a donor that could not carry a signal: the next donor is tried).

    Reproducible for a given seed and set of stored light curves. One transaction per candidate.
    """
    if n < 0:
        raise ValueError("n must not be negative")
    lo, hi = snr_range
    if not 0 < lo <= hi:
        raise ValueError("the SNR range must be positive and increasing")
    counts: Counter = Counter()
    if top_up:
        have = KnownAnswer.objects.filter(source=KnownAnswerSource.INJECTED).count()
        counts["known_answers_existing"] = have
        n = max(0, n - have)
    if n == 0:
        return counts
    rng = np.random.default_rng([seed, 13])
    donors = _donors(rng=rng)
    made = 0
    for donor in donors:
        if made >= n:
            break
        true_class = "PC" if rng.random() < planet_share else "EB"
        snr = float(np.exp(rng.uniform(np.log(lo), np.log(hi))))
        try:
            candidate = _inject_one(donor=donor, true_class=true_class, snr=snr, rng=rng)
        except (InjectionError, ValidationError, ValueError) as exc:
            logger.warning("injection skipped", extra={"event": "known_answer_inject_skipped",
                                                       "lightcurve_id": donor.pk, "error": str(exc)})
            counts["known_answers_failed"] += 1
            continue
        made += 1
        counts["known_answers_injected"] += 1
        logger.info("known answer injected", extra={"event": "known_answer_injected", "candidate_id": candidate.pk})
    if made < n:
        logger.warning("fewer known answers than asked", extra={"event": "known_answer_inject_short",
                                                                "made": made, "asked": n})
    return counts
