"""Model health: how the active classifier fares on labels the team made after its promotion.

Two signals an operator watches for drift, the same definitions for ``/metrics``, the model page
and the API:

* **Agreement** with new consensus labels: among candidates with a human label made since the
  version's promotion (``Label.created_at >= promoted_at``) and a team consensus (not the
  catalog's disposition), the share whose consensus class equals the version's predicted class.
  The model never saw these labels, so this is a live estimate of its accuracy, with its n and a
  Wilson interval (:func:`vetting.reviews.stats.wilson`). It is biased toward hard candidates
  when the queue favours uncertain ones: compare it over time, not with the cross-validated
  figures.
* **Near 0.5**: the share of the version's predictions with ``p_planet`` in
  :data:`NEAR_HALF` (inclusive): candidates the model cannot call. A rising share among newly
  scored candidates means new data unlike the training set.

Reads only (selectors); each function is one or two aggregate queries.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Exists, F, Max, OuterRef, Q, Subquery
from django.utils import timezone

from vetting.learning.models import ClassifierVersion, Prediction
from vetting.reviews.models import Label
from vetting.reviews.stats import wilson

#: ``p_planet`` band (inclusive) of predictions counted as "near 0.5".
NEAR_HALF = (0.4, 0.6)
#: Most buckets :func:`health_over_time` returns (the newest ones).
MAX_BUCKETS = 104


def _new_labels(version_ref):
    """Human labels of the prediction's candidate made at or after ``version_ref``'s promotion."""
    return Label.objects.filter(candidate=OuterRef("candidate"), source="human",
                                created_at__gte=OuterRef(version_ref))


def _judged(queryset):
    """Predictions whose candidate has a team consensus with a class (catalog dispositions and
    unsettled ties left out)."""
    return (queryset.filter(candidate__consensus__isnull=False)
            .exclude(candidate__consensus__method="catalog").exclude(candidate__consensus__label_class=""))


def _near() -> Q:
    return Q(p_planet__gte=NEAR_HALF[0], p_planet__lte=NEAR_HALF[1])


def live_agreement(version: ClassifierVersion | None = None) -> dict:
    """Agreement of ``version`` (default: the active one) with consensus labels made since its
    promotion, in one query.

    Returns
    -------
    dict
        ``version`` (name or None), ``n`` candidates judged, ``agree`` of them, ``value``
        (agree / n or None), ``low``/``high`` (95 % Wilson interval or None).
    """
    qs = Prediction.objects.filter(classifier_version=version) if version else \
        Prediction.objects.filter(classifier_version__is_active=True)
    qs = _judged(qs.filter(Exists(_new_labels("classifier_version__promoted_at")),
                           classifier_version__promoted_at__isnull=False))
    same = Q(predicted_class=F("candidate__consensus__label_class"))
    row = qs.aggregate(n=Count("pk"), agree=Count("pk", filter=same), name=Max("classifier_version__name"))
    p = wilson(row["agree"] or 0, row["n"] or 0)
    return {"version": row["name"] or (version.name if version else None), "n": p.n, "agree": p.k,
            "value": p.value, "low": p.low, "high": p.high}


def live_near_half(version: ClassifierVersion | None = None) -> dict:
    """Share of ``version``'s (default: the active one's) predictions with p_planet in
    :data:`NEAR_HALF`, in one query (the ``(classifier_version, p_planet)`` index answers it).

    Returns
    -------
    dict
        ``n`` predictions, ``near`` of them in the band, ``share`` (or None without predictions).
    """
    qs = Prediction.objects.filter(classifier_version=version) if version else \
        Prediction.objects.filter(classifier_version__is_active=True)
    row = qs.aggregate(n=Count("pk"), near=Count("pk", filter=_near()))
    n, near = row["n"] or 0, row["near"] or 0
    return {"n": n, "near": near, "share": near / n if n else None}


@dataclass(frozen=True)
class HealthBucket:
    """One time bucket since promotion (``start`` inclusive, ``end`` exclusive, UTC)."""

    start: datetime
    end: datetime
    n: int  # candidates whose newest post-promotion label falls in the bucket and have a consensus
    agree: int
    value: float | None  # agree / n
    low: float | None  # 95 % Wilson interval
    high: float | None
    n_scored: int  # predictions of the version created in the bucket
    near: int  # of them with p_planet in NEAR_HALF
    near_share: float | None

    def as_dict(self) -> dict:
        out = asdict(self)
        out["start"], out["end"] = self.start.isoformat(), self.end.isoformat()
        return out


def health_over_time(version: ClassifierVersion, *, bucket_days: float = 7.0,
                     now: datetime | None = None) -> list[HealthBucket]:
    """Agreement with new consensus labels and the near-0.5 share, per bucket since promotion.

    Parameters
    ----------
    version : ClassifierVersion
        A promoted version (an empty list when it never was).
    bucket_days : float
        Bucket length in days (7: weekly).
    now : datetime, optional
        End of the last bucket (default: the current time).

    Returns
    -------
    list of HealthBucket
        Oldest first, at most :data:`MAX_BUCKETS` (the newest); buckets with no label and no new
        prediction are kept (n = 0, value None) so the time axis has no gaps.

    Notes
    -----
    A candidate counts once, in the bucket of its newest human label made since promotion, with
    its current consensus. Two queries: one row per such candidate (thousands, not the whole
    prediction table), and one aggregate of conditional counts over the version's predictions.
    """
    promoted = version.promoted_at
    if promoted is None:
        return []
    now = now or timezone.now()
    step = timedelta(days=bucket_days)
    n_buckets = max(1, int((now - promoted) / step) + 1)
    first = max(0, n_buckets - MAX_BUCKETS)
    starts = [promoted + i * step for i in range(first, n_buckets)]

    newest = (Label.objects.filter(candidate=OuterRef("candidate"), source="human", created_at__gte=promoted)
              .order_by().values("candidate").annotate(t=Max("created_at")).values("t"))
    rows = (_judged(Prediction.objects.filter(classifier_version=version))
            .annotate(t=Subquery(newest)).filter(t__isnull=False, t__gte=starts[0])
            .values_list("t", "predicted_class", "candidate__consensus__label_class"))
    judged = [[0, 0] for _ in starts]
    for t, predicted, consensus in rows:
        i = min(len(starts) - 1, int((t - starts[0]) / step))
        judged[i][0] += 1
        judged[i][1] += predicted == consensus

    # Predictions written at promotion time (the rescoring) may precede promoted_at by seconds:
    # the first bucket has no lower bound.
    def window(i: int, start: datetime) -> Q:
        upper = Q(created_at__lt=start + step)
        return upper if i == 0 and first == 0 else upper & Q(created_at__gte=start)

    scored = Prediction.objects.filter(classifier_version=version).aggregate(**{
        f"{kind}_{i}": Count("pk", filter=window(i, start) & extra)
        for i, start in enumerate(starts) for kind, extra in (("n", Q()), ("near", _near()))})

    buckets = []
    for i, start in enumerate(starts):
        p = wilson(judged[i][1], judged[i][0])
        n_scored, near = scored[f"n_{i}"], scored[f"near_{i}"]
        buckets.append(HealthBucket(start, start + step, p.n, p.k, p.value, p.low, p.high,
                                    n_scored, near, near / n_scored if n_scored else None))
    return buckets
