"""Demo data with labels: the simulated candidates (:mod:`vetting.candidates.importers.demo`)
plus a seed of human labels by the demo vetters, so the classifier has something to learn.

``vetter`` labels every chosen candidate and ``vetter2`` about half of them, drawn from the
simulated truth with a little noise, through :func:`vetting.reviews.services.label_create`.
Reproducible: the same seed chooses the same candidates and labels; loading twice adds nothing.
"""
from __future__ import annotations

from collections import Counter

import numpy as np
from django.contrib.auth import get_user_model

from classifier.vocabulary import CLASS_CODES
from vetting.candidates import services as candidate_services
from vetting.candidates.importers.errors import ImportReport
from vetting.candidates.models import Candidate, SourceCatalog
from vetting.core.demo_users import ensure_demo_users
from vetting.reviews.models import Label, LabelSource
from vetting.reviews.services import label_create

#: Share of seed labels that are wrong (a tired vetter), and the share vetter2 also labels.
LABEL_NOISE = 0.08
SECOND_VETTER_SHARE = 0.5
#: Injected known-answer candidates made per simulated candidate (2000 -> 40).
KNOWN_ANSWER_SHARE_OF_DEMO = 0.02


def load_demo(*, n: int = 2000, seed: int = 42, labels: int = 200, workers: int | None = None,
              progress=None) -> ImportReport:
    """Load ``n`` simulated candidates, then ``labels`` of them get seed labels; one report."""
    if labels < 0:
        raise ValueError("labels must not be negative")
    report = candidate_services.load_demo(n=n, seed=seed, workers=workers, progress=progress)
    report.counts.update(seed_demo_labels(labels=labels, seed=seed))
    # known-answer checks for the vetters' queues: injected into the demo's light curves when no
    # real ones are stored (topped up, so loading twice adds nothing)
    from vetting.reviews.known_answers import known_answers_inject

    report.counts.update(known_answers_inject(n=round(n * KNOWN_ANSWER_SHARE_OF_DEMO), seed=seed, top_up=True))
    return report


def seed_demo_labels(*, labels: int, seed: int) -> Counter:
    """Human labels by the demo vetters on ``labels`` simulated candidates (counts
    ``labels_created``, ``labels_unchanged``)."""
    counts: Counter = Counter()
    truths = dict(Candidate.objects.filter(source_catalog=SourceCatalog.SIMULATED).exclude(simulated_truth="")
                  .exclude(known_answer__isnull=False)  # injected checks are not seed candidates
                  .values_list("catalog_id", "simulated_truth"))
    if not labels or not truths:
        return counts
    ensure_demo_users()
    users = {u.username: u for u in get_user_model().objects.filter(username__in=["vetter", "vetter2"])}
    rng = np.random.default_rng([seed, 7])  # its own stream: labels never shift the simulation
    ids = sorted(truths)
    chosen = [ids[i] for i in sorted(rng.choice(len(ids), size=min(labels, len(ids)), replace=False))]
    pks = dict(Candidate.objects.filter(source_catalog=SourceCatalog.SIMULATED, catalog_id__in=chosen)
               .values_list("catalog_id", "pk"))
    already = set(Label.objects.filter(candidate_id__in=pks.values(), source=LabelSource.HUMAN, is_current=True,
                                       vetter__in=users.values()).values_list("candidate_id", "vetter__username"))
    for cid in chosen:
        for username in ("vetter", "vetter2"):
            # draw every number even when skipping, so the stream stays the same on a re-run
            labels_it = username == "vetter" or rng.random() < SECOND_VETTER_SHARE
            wrong = rng.random() < LABEL_NOISE
            other = str(rng.choice([c for c in CLASS_CODES if c != truths[cid]]))
            confidence = float(np.round(rng.uniform(0.6, 1.0), 2))
            if not labels_it:
                continue
            if (pks[cid], username) in already:
                counts["labels_unchanged"] += 1
                continue
            label_create(candidate=pks[cid], vetter=users[username], label_class=other if wrong else truths[cid],
                         confidence=confidence, note="demo seed label")
            counts["labels_created"] += 1
    return counts
