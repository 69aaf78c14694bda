"""Suspected mislabels: labeled candidates whose consensus the out-of-fold model finds least likely.

:func:`flag_mislabels` runs inside a training run, after the grouped cross-validation; at most
``VETTING_MISLABEL_FLAGS`` open ``MislabelFlag`` rows result, and a newer run's flags replace
the older ones. The queue shows open flags first (``queue.MISLABEL_STRATEGY``).
"""
from __future__ import annotations

import numpy as np
from django.conf import settings
from django.db import transaction

from vetting.learning.models import MislabelFlag


def flag_mislabels(run_id: int, candidate_ids: np.ndarray, y: np.ndarray, oof_proba, classes) -> int:
    """Flag the labeled candidates whose consensus the out-of-fold model finds least likely.

    ``candidate_ids`` (n,), ``y`` (n,) the consensus classes, ``oof_proba`` (n, k) out-of-fold
    probabilities over ``classes`` (k,), or None (no flags). Returns the number of flags.
    """
    from classifier.active import rank_suspected_mislabels

    if oof_proba is None:
        return 0
    from vetting.reviews.selectors import never_flagged_ids

    top = int(settings.VETTING_MISLABEL_FLAGS)
    classes = list(classes)
    order, suspicion = rank_suspected_mislabels(y, oof_proba, classes)
    # A curator's decision, a gold label or a known answer is the truth, not a suspect.
    settled = never_flagged_ids(candidate_ids=[int(c) for c in candidate_ids])
    flags = []
    for i in order.tolist():
        # Normalised margin: suspicion > 0.5 means another class beats the given one out of fold.
        if suspicion[i] <= 0.5 or len(flags) >= top:
            break
        if int(candidate_ids[i]) in settled:
            continue
        others = np.array(oof_proba[i], dtype=float)
        others[classes.index(y[i])] = -np.inf
        flags.append(MislabelFlag(
            candidate_id=int(candidate_ids[i]), training_run_id=run_id, given_class=str(y[i]),
            suggested_class=classes[int(np.argmax(others))],
            # The out-of-fold probability of the given class (self-confidence, as the field says).
            score=float(oof_proba[i][classes.index(y[i])]),
        ))
    with transaction.atomic():
        # A newer cross-validation supersedes older suspicions.
        MislabelFlag.objects.filter(is_open=True).update(is_open=False)
        MislabelFlag.objects.bulk_create(flags, ignore_conflicts=True)
    return len(flags)
