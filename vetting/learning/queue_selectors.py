"""The vetting queue, read in one place for the queue page, the "next" button and ``/api/queue/``.

Candidates are filtered with the one vocabulary of :class:`vetting.learning.filters.CandidateFilter`
and read through ``Candidate.objects`` QuerySet methods (``light``, ``with_active_prediction``,
``with_queue``); whether a row may show its consensus is the reviews visibility rule. Every
function issues a fixed number of queries whatever the number of candidates or labels.

Overlap: outside "my labeled candidates", only candidates with room for the user
(:func:`vetting.reviews.selectors.with_room_for`: they still want labels, and their labels plus
other vetters' live assignments leave a place) are listed. Handing a candidate out -- the
"next" button (:func:`next_candidate_id`) and ``/api/queue/`` (:func:`queue_next`) -- claims it
for the user through :func:`vetting.reviews.services.assignment_claim`, which counts the room
again under a lock, so two vetters never get a candidate beyond the overlap it wants.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db.models import Exists, F, Func, IntegerField, OuterRef, Q, QuerySet, Subquery

from vetting.candidates.models import Candidate, ImportJob
from vetting.learning.filters import ORDERING_FIELDS, CandidateFilter, order_by
from vetting.learning.models import ClassifierVersion, MislabelFlag, Prediction, QueueEntry, TrainingRun
from vetting.learning.selectors import active_version
from vetting.reviews import selectors as review_selectors
from vetting.reviews.models import Consensus, Label

#: The queue page's order when none is asked for.
DEFAULT_ORDERING = "-priority"


@dataclass(frozen=True)
class QueueQuery:
    """A parsed queue request: the validated :class:`CandidateFilter` values and the ordering.

    ``params`` holds only valid values (a bad value is reported by the form and ignored);
    ``labeled_by_me`` defaults to False on the queue (your labeled candidates are hidden).
    """

    params: tuple[tuple[str, str], ...] = ()
    ordering: str = DEFAULT_ORDERING

    @classmethod
    def of(cls, ordering: str = DEFAULT_ORDERING, **params: str) -> QueueQuery:
        """A query from filter values as they appear in a query string (``p_planet_min="0.3"``)."""
        return cls(params=tuple(sorted(params.items())), ordering=ordering)

    @classmethod
    def from_filterset(cls, filterset: CandidateFilter) -> QueueQuery:
        filterset.is_valid()
        data = getattr(filterset.form, "cleaned_data", {})
        errors = filterset.form.errors
        raw = filterset.data
        params = tuple((name, raw[name]) for name in filterset.filters
                       if name not in errors and name != "ordering" and data.get(name) not in (None, "")
                       and name in raw)
        if "__all__" in errors:  # an impossible range: drop both ends
            params = tuple((k, v) for k, v in params if k not in ("p_planet_min", "p_planet_max"))
        ordering = data.get("ordering") if "ordering" not in errors else None
        return cls(params=params, ordering=ordering or DEFAULT_ORDERING)

    @property
    def mine(self) -> bool:
        """Showing the user's own labeled candidates (instead of hiding them)."""
        return dict(self.params).get("labeled_by_me") == "true"

    @property
    def filtered(self) -> bool:
        """Any filter beyond which side of "labeled by me" is shown."""
        return any(name != "labeled_by_me" for name, _ in self.params)


def _filtered(*, user, query: QueueQuery, version: ClassifierVersion | None, columns: bool) -> QuerySet[Candidate]:
    """Candidates matching ``query``; ``columns`` adds what a row shows.

    Without ``columns`` only what the filters need is joined, so the id-only queries of
    :func:`queue_ids` stay narrow (no target, consensus or per-row EXISTS unless filtered on).
    """
    qs = Candidate.objects.with_active_prediction(version.pk if version else None)
    if columns:
        qs = _with_columns(qs, user=user)
    params = dict(query.params)
    params.setdefault("labeled_by_me", "false")
    qs = CandidateFilter(params, queryset=qs, user=user).qs
    return qs if query.mine else review_selectors.with_room_for(qs, user=user)


def _with_columns(qs: QuerySet[Candidate], *, user) -> QuerySet[Candidate]:
    """What a row shows beyond the candidate: target, consensus, queue entry, ``is_mine``,
    ``has_open_dispute`` (the active prediction comes from ``with_active_prediction``)."""
    return qs.light().select_related("target", "consensus").with_queue().annotate(
        is_mine=review_selectors.labeled_by(user), has_open_dispute=review_selectors.has_open_dispute())


def queue(*, user, query: QueueQuery, version: ClassifierVersion | None) -> QuerySet[Candidate]:
    """Candidates to vet, in the query's order, with the row columns annotated (one query over
    every match: for small sets and exports; the queue page reads one page through
    :func:`queue_ids`)."""
    return _filtered(user=user, query=query, version=version, columns=True).order_by(*order_by(query.ordering))


#: ``(filter, order)`` per ordering: the order of :func:`vetting.learning.filters.order_by` split
#: where a LEFT JOINed sort key is NULL, so each part is one INNER (or anti-) join read in the
#: order of an index (QueueEntry.priority; Prediction (version, uncertainty|p_planet); Candidate
#: columns).
def _tiers(ordering: str, version: ClassifierVersion | None) -> list[tuple[Q, tuple]]:
    newest = (F("created_at").desc(), F("id"))
    if ordering == "-priority":
        in_queue = Q(queue_entry__isnull=False)
        # NOT EXISTS, not "LEFT JOIN ... IS NULL": the planner estimates the anti-join well.
        queued = Q(Exists(QueueEntry.objects.filter(candidate=OuterRef("pk"))))
        if version is None:
            return [(in_queue, (F("queue_entry__priority").desc(), *newest)), (~queued, newest)]
        return [
            (in_queue, (F("queue_entry__priority").desc(), F("uncertainty").desc(nulls_last=True), *newest)),
            (~queued & Q(uncertainty__isnull=False), (F("uncertainty").desc(), *newest)),
            (~queued & Q(uncertainty__isnull=True), newest),
        ]
    if ordering.lstrip("-") in ("uncertainty", "p_planet"):
        if version is None:
            return [(Q(), (F("id"),))]
        # (the model columns are NOT NULL in Prediction: NULL here means no active prediction)
        # Within the scored part there are no NULLs, so the key is sorted without "NULLS LAST":
        # DESC NULLS LAST is not the backward scan of the (version, column) index, and at 1M
        # candidates PostgreSQL sorted every prediction instead (0.9 s for a 51-row page).
        column = F(ORDERING_FIELDS[ordering.lstrip("-")])
        key = column.desc() if ordering.startswith("-") else column.asc()
        return [(Q(uncertainty__isnull=False), (key, F("id"))), (Q(uncertainty__isnull=True), (F("id"),))]
    return [(Q(), order_by(ordering))]


#: Above this many matches a filtered page says "more than N" instead of counting them all.
COUNT_CAP = 1000


@dataclass
class QueuePage:
    """One page of the queue: rows in order, and enough to draw the pager."""

    object_list: list[Candidate]
    number: int
    per_page: int
    has_next: bool
    count: int  # matches, or COUNT_CAP when ``count_capped``
    count_capped: bool = False

    def __iter__(self):
        return iter(self.object_list)

    def __len__(self) -> int:
        return len(self.object_list)

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def next_page_number(self) -> int:
        return self.number + 1

    @property
    def previous_page_number(self) -> int:
        return self.number - 1

    @property
    def num_pages(self) -> int | None:
        """None when the count is capped (the pager then shows "Page n" and Next)."""
        return None if self.count_capped else max(1, -(-self.count // self.per_page))


def queue_page(*, user, query: QueueQuery, version: ClassifierVersion | None, counts: dict[str, int],
               page: int | str | None, per_page: int = 50) -> QueuePage:
    """One page of :func:`queue` read through indexes, at most 7 queries whatever the size.

    1. Ids of the page: :func:`queue_ids`.
    2. The rows of those ids with their columns (one query): :func:`queue_rows`.
    3. The number of matches: unfiltered, from ``counts`` (:func:`queue_counts`: every
       candidate the user has not labeled, an upper bound, as it does not apply the room rule of
       :func:`vetting.reviews.selectors.with_room_for`), made exact on the last page from its
       rows; filtered, a ``COUNT`` that stops at ``COUNT_CAP`` + 1 rows.
    """
    try:
        number = max(1, int(page or 1))
    except (TypeError, ValueError):
        number = 1
    if not query.filtered:
        count, capped = (counts["mine"] if query.mine else counts["total"] - counts["mine"]), False
    else:
        base = _filtered(user=user, query=query, version=version, columns=False)
        count = base.order_by().values("pk")[:COUNT_CAP + 1].count()
        capped = count > COUNT_CAP
        count = min(count, COUNT_CAP)
    if not capped:  # past the end: the last page, as Paginator.get_page does
        number = min(number, max(1, -(-count // per_page)))
    ids = queue_ids(user=user, query=query, version=version, offset=(number - 1) * per_page, limit=per_page + 1)
    has_next = len(ids) > per_page
    rows = queue_rows(user=user, version=version, ids=ids[:per_page], fields=PAGE_FIELDS)
    if not has_next and (rows or number == 1):  # the last page knows how many there are
        count, capped = (number - 1) * per_page + len(rows), False
    return QueuePage(rows, number, per_page, has_next, count, capped)


#: The candidate and target columns a queue page row shows (the API's rows take every light one).
PAGE_FIELDS = ("catalog_id", "period_days", "depth_ppm", "snr", "catalog_disposition",
               "target__catalog_id", "target__mission")


def queue_ids(*, user, query: QueueQuery, version: ClassifierVersion | None, limit: int, offset: int = 0,
              exclude_ids: Iterable[int] = ()) -> list[int]:
    """Ids of ``limit`` candidates from position ``offset`` of the queue order (the one order of
    the queue page, the "next" button and ``/api/queue/``), ``exclude_ids`` left out.

    Per part of the order (see ``_tiers``) an id-only query with ``LIMIT``/``OFFSET`` that the
    planner answers from an ordered index with nested loops, and a ``COUNT`` of a part only
    when the requested positions lie past it: at most 3 queries (4 with the count), whatever
    the number of candidates.
    """
    base = _filtered(user=user, query=query, version=version, columns=False)
    exclude_ids = list(exclude_ids)
    if exclude_ids:
        base = base.exclude(pk__in=exclude_ids)
    ids: list[int] = []
    for condition, order in _tiers(query.ordering, version):
        part = base.filter(condition).order_by(*order).values_list("pk", flat=True)
        got = list(part[offset:offset + limit - len(ids)])
        ids.extend(got)
        if len(ids) >= limit:
            break
        offset = 0 if got or offset == 0 else max(0, offset - part.count())
    return ids


def queue_rows(*, user, version: ClassifierVersion | None, ids: list[int],
               fields: Iterable[str] | None = None) -> list[Candidate]:
    """The candidates ``ids`` in that order with the row columns annotated (one query, none
    for no ids): ``p_planet``, ``uncertainty``, ``predicted_class`` (active version),
    ``queue_priority``, ``queue_strategy``, ``is_mine``, ``has_open_dispute``, their target, and
    ``visible_consensus``: the consensus where the visibility rule lets the user see it, else
    None. ``fields`` limits the candidate/target columns read (default: all but blobs).

    The ids come from :func:`queue_ids` (or a claim), which applied the filters and the room
    rule: they are read by primary key, not filtered again (a second pass of the same filters
    cost as much SQL to build and plan as the page's own id query, for no row).
    """
    if not ids:
        return []
    flag = MislabelFlag.objects.filter(candidate=OuterRef("pk"), is_open=True).order_by("score")
    base = Candidate.objects.with_active_prediction(version.pk if version else None)
    qs = _with_columns(base, user=user).filter(pk__in=ids).annotate(
        mislabel_given=Subquery(flag.values("given_class")[:1]),
        mislabel_suggested=Subquery(flag.values("suggested_class")[:1]),
        mislabel_p_given=Subquery(flag.values("score")[:1]))
    if fields is not None:
        qs = qs.only(*fields, "target", "consensus__label_class")
    rows = {c.pk: c for c in qs}
    ordered = [rows[i] for i in ids if i in rows]
    for cand in ordered:
        cand.visible_consensus = review_selectors.visible_consensus(user=user, candidate=cand,
                                                                    has_labeled=cand.is_mine)
        # Why a suspected mislabel is in the queue; the given class is the team's label, so it
        # is shown under the same visibility rule as the consensus.
        cand.mislabel_reason = None
        if cand.mislabel_suggested and cand.visible_consensus is not None:
            cand.mislabel_reason = review_selectors.mislabel_reason(
                given_class=cand.mislabel_given, suggested_class=cand.mislabel_suggested,
                p_given=cand.mislabel_p_given)
        elif cand.mislabel_suggested:
            cand.mislabel_reason = "The cross-validated model doubts the team's label: label it to see why."
    return ordered


#: ``queue_strategy`` of candidates outside the active-learning queue (``/api/queue/``).
FALLBACK_UNCERTAINTY = "fallback-uncertainty"
FALLBACK_NEWEST = "fallback-newest"


#: Candidates read per claim attempt beyond those asked for (a concurrent vetter may take some).
CLAIM_SLACK = 4
#: Claim attempts before giving what was got (each attempt skips the ids tried before).
CLAIM_ROUNDS = 3


def _claim(*, user, version: ClassifierVersion | None, limit: int, exclude_ids: Iterable[int] = ()) -> list[int]:
    """The first ``limit`` candidates of the queue order with room, claimed for ``user``."""
    from vetting.reviews import services as review_services

    tried = list(exclude_ids)
    got: list[int] = []
    # Known-answer checks (a share of each queue): handed out like any candidate, outside the
    # overlap (their answer is known; every vetter gets them).
    if review_selectors.known_answer_due(user=user):
        check = review_selectors.next_known_answer(user=user, exclude_ids=tried)
        if check is not None:
            got.append(check)
            if len(got) >= limit:
                return got
    for _ in range(CLAIM_ROUNDS):
        ids = queue_ids(user=user, query=QueueQuery(), version=version, limit=limit - len(got) + CLAIM_SLACK,
                        exclude_ids=tried + got)
        if not ids:
            break
        got += review_services.assignment_claim(vetter=user, candidate_ids=ids, limit=limit - len(got))
        tried += ids
        if len(got) >= limit:
            break
    return got


def queue_next(*, user, limit: int) -> list[Candidate]:
    """The first ``limit`` candidates of the user's queue, best first, claimed for the user
    (``/api/queue/``; see the module note on overlap).

    The queue page's default order (:func:`queue_ids`, no filters): the active-learning queue
    by priority, then the active model's most uncertain candidates, then the newest; never a
    candidate the user labeled nor one without room. Every row carries the columns of
    :func:`queue_rows`, and ``queue_strategy``/``queue_priority`` also outside the queue:
    ``fallback-uncertainty`` (priority = the model's uncertainty) or ``fallback-newest``
    (priority 0). About 10 queries (more only when concurrent vetters took candidates first).
    """
    if limit <= 0:
        return []
    version = active_version()
    rows = queue_rows(user=user, version=version, ids=_claim(user=user, version=version, limit=limit))
    for cand in rows:
        if cand.queue_strategy is None:
            if cand.uncertainty is not None:
                cand.queue_strategy, cand.queue_priority = FALLBACK_UNCERTAINTY, cand.uncertainty
            else:
                cand.queue_strategy, cand.queue_priority = FALLBACK_NEWEST, 0.0
    return rows


#: Seconds the site-wide figures of the queue page (all candidates, with a team label, in the
#: active-learning queue) are reused within a web process: the same for every vetter, and a
#: COUNT over every candidate is the page's most expensive query at TESS scale.
SITE_COUNTS_TTL_S = 5.0
_SITE_COUNTS_KEY = "vetting:queue-site-counts"
#: Above this many candidates (planner estimate) the page shows the estimate of the candidate
#: total ("about N": ``pg_class.reltuples``, refreshed by ANALYZE after imports and rescoring)
#: instead of a COUNT that reads the whole table (tens of ms at 1M rows, on every cache miss).
#: The counts a vetter acts on (the queue left for them, their own labels) stay exact.
ESTIMATE_TOTAL_ABOVE = 200_000


def queue_counts(*, user) -> dict[str, int]:
    """What is left, in one query of indexed counts (no per-candidate work): all candidates,
    those without a team label, those in the active-learning queue that the user has not
    labeled, and those the user labeled; ``total_estimated`` is True when the total (and so the
    number without a team label) is the planner's estimate (see ``ESTIMATE_TOTAL_ABOVE``).

    The site-wide counts come from the cache when fresh (``SITE_COUNTS_TTL_S``); the user's own
    counts are always read. On a cache miss below ``ESTIMATE_TOTAL_ABOVE`` candidates (or off
    PostgreSQL) a second query counts the candidates exactly.
    """
    from vetting.core.db import estimate_expression

    mine = Label.objects.current_by(user)
    queued_mine = QueueEntry.objects.filter(Exists(mine.filter(candidate=OuterRef("candidate_id"))))
    site = cache.get(_SITE_COUNTS_KEY)
    columns = {"queued_mine": _scalar_count(queued_mine), "mine": _scalar_count(mine)}
    if site is None:
        columns.update(with_consensus=_scalar_count(Consensus.objects.all()),
                       queued=_scalar_count(QueueEntry.objects.all()))
        estimate = estimate_expression(Candidate)
        if estimate is not None:
            columns["estimate"] = estimate
    row = get_user_model().objects.filter(pk=user.pk).values(**columns).first() or dict.fromkeys(
        ("with_consensus", "queued", "queued_mine", "mine"), 0)
    if site is None:
        estimate = row.get("estimate")
        estimated = estimate is not None and estimate > ESTIMATE_TOTAL_ABOVE
        site = {"total": int(estimate) if estimated else Candidate.objects.count(), "total_estimated": estimated,
                "with_consensus": row["with_consensus"], "queued": row["queued"]}
        cache.set(_SITE_COUNTS_KEY, site, SITE_COUNTS_TTL_S)
    return {"total": site["total"], "without_consensus": max(0, site["total"] - site["with_consensus"]),
            "queued_for_me": max(0, site["queued"] - row["queued_mine"]), "mine": row["mine"],
            "total_estimated": site.get("total_estimated", False)}


def _scalar_count(qs: QuerySet):
    """``(SELECT COUNT(*) FROM ...)`` as an expression."""
    return Subquery(qs.order_by().annotate(_n=Func(F("pk"), function="COUNT")).values("_n")[:1],
                    output_field=IntegerField())


def next_candidate_id(*, user, exclude_ids: list[int]) -> int | None:
    """The first candidate in queue order (:func:`queue_ids`, no filters) the user has not
    labeled nor skipped and that has room, claimed for the user (the "next" button), or None."""
    ids = _claim(user=user, version=active_version(), limit=1, exclude_ids=exclude_ids)
    return ids[0] if ids else None


def active_prediction(*, candidate: Candidate) -> Prediction | None:
    """The active classifier version's prediction for a candidate, with its version (1 query)."""
    return (Prediction.objects.filter(candidate=candidate, classifier_version__is_active=True)
            .select_related("classifier_version").first())


def model_classes(*, candidate_ids, version: ClassifierVersion | None) -> dict[int, str]:
    """``{candidate id: predicted class}`` of the active version for the given candidates."""
    if version is None:
        return {}
    return dict(Prediction.objects.filter(classifier_version=version, candidate_id__in=candidate_ids)
                .values_list("candidate_id", "predicted_class"))


#: Seconds the running-jobs box of the queue page may lag (its progress bars poll on their own).
RUNNING_JOBS_TTL_S = 2.0
_RUNNING_JOBS_KEY = "vetting:running-jobs"


def running_jobs(*, limit: int = 5) -> dict[str, list]:
    """Imports and training runs that are queued or running (2 queries), newest first.

    Cached for ``RUNNING_JOBS_TTL_S`` seconds: every vetter's queue page shows the same box.
    """
    def load() -> dict[str, list]:
        live = ("queued", "running")
        return {
            "imports": list(ImportJob.objects.filter(state__in=live).only("id", "state", "progress")
                            .order_by("-created_at")[:limit]),
            "training": list(TrainingRun.objects.filter(state__in=live).only("id", "state", "progress")
                             .order_by("-created_at")[:limit]),
        }

    return cache.get_or_set(f"{_RUNNING_JOBS_KEY}:{limit}", load, RUNNING_JOBS_TTL_S)
