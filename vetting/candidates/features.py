"""The one way a candidate's vetting metrics are written: :func:`features_set` stores
``Candidate.features`` together with ``Candidate.failed_flags``, the bitmask of the vetting flags
those features fail (:func:`classifier.flags.failed_mask`, bits :data:`classifier.flags.FLAG_BITS`).

Every importer (light curves, target pixel files, catalog centroids, the demo) and the
recompute path call :func:`features_set`, so the stored mask always matches the stored
features and the failed-flag filter (:mod:`vetting.learning.filters`) is one integer test in
SQL. :func:`failed_flags_fill` brings databases written before the mask existed (or after a
flag's threshold changed) up to date from the stored features alone, in chunks.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from django.db import transaction

from classifier import flags as flagmod
from vetting.candidates.models import Candidate

#: The columns :func:`features_set` writes (for ``save(update_fields=...)`` / ``bulk_update``).
FEATURE_FIELDS = ["features", "failed_flags"]
#: Candidates per chunk of :func:`failed_flags_fill`.
FILL_CHUNK_SIZE = 2000


def features_set(candidate: Candidate, features: Mapping | None) -> None:
    """Set ``candidate.features`` and its ``failed_flags`` mask together (in memory; the caller
    saves :data:`FEATURE_FIELDS`).

    Parameters
    ----------
    candidate : Candidate
        Saved or not.
    features : mapping of str to float or None
        Vetting metrics (``classifier.features`` names, units in the keys); None means none.
    """
    features = dict(features or {})
    candidate.features = features
    candidate.failed_flags = flagmod.failed_mask(features)


def failed_flags_fill(*, candidate_ids: Iterable[int] | None = None, chunk_size: int = FILL_CHUNK_SIZE,
                      progress: Callable[[int, int], None] | None = None) -> dict[str, int]:
    """Recompute ``failed_flags`` from the stored ``features`` of candidates (all when
    ``candidate_ids`` is None): no light-curve work, one read and at most one bulk UPDATE per
    chunk of ``chunk_size`` candidates (keyset pages by pk, so memory stays bounded).
    Idempotent: a rerun writes nothing. ``updated_at`` is left alone (the mask is derived from
    the features, which did not change).

    Returns
    -------
    dict
        ``{"candidates": n, "flags_updated": n, "flags_unchanged": n}``.
    """
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1 (got {chunk_size})")
    qs = Candidate.objects.order_by("pk").only("pk", "features", "failed_flags")
    if candidate_ids is not None:
        qs = qs.filter(pk__in=sorted({int(pk) for pk in candidate_ids}))
    total = qs.count()
    counts = {"candidates": 0, "flags_updated": 0, "flags_unchanged": 0}
    last_pk = 0
    while True:
        chunk = list(qs.filter(pk__gt=last_pk)[:chunk_size])
        if not chunk:
            break
        last_pk = chunk[-1].pk
        changed = []
        for candidate in chunk:
            mask = flagmod.failed_mask(candidate.features or {})
            if mask != candidate.failed_flags:
                candidate.failed_flags = mask
                changed.append(candidate)
        if changed:
            with transaction.atomic():
                Candidate.objects.bulk_update(changed, ["failed_flags"])
        counts["candidates"] += len(chunk)
        counts["flags_updated"] += len(changed)
        counts["flags_unchanged"] += len(chunk) - len(changed)
        if progress:
            progress(counts["candidates"], total)
    return counts


__all__ = ["FEATURE_FIELDS", "FILL_CHUNK_SIZE", "failed_flags_fill", "features_set"]
