"""Activation after rescoring, pruning of superseded predictions, the queue swap (no training:
versions and predictions are made directly)."""
from __future__ import annotations

import pytest
from django.utils import timezone

from tests.web.pagedata import make_prediction, make_queue_entry, make_version
from vetting.learning import services
from vetting.learning.models import ClassifierVersion, Prediction, QueueEntry
from vetting.learning.services import queue as queue_services

pytestmark = pytest.mark.django_db


def _version(name: str, status: str, *, active: bool = False, promoted_at=None) -> ClassifierVersion:
    version = make_version(name, active=active)
    ClassifierVersion.objects.filter(pk=version.pk).update(status=status, promoted_at=promoted_at)
    version.refresh_from_db()
    return version


def _scored(versions, candidates) -> None:
    for version in versions:
        for candidate in candidates:
            make_prediction(candidate, version)


def _left() -> dict[str, int]:
    rows = Prediction.objects.values_list("classifier_version__name", flat=True)
    return {name: list(rows).count(name) for name in sorted(set(rows))}


def test_prune_keeps_the_active_the_previous_and_pending_versions(make_candidate):
    candidates = [make_candidate() for _ in range(3)]
    now = timezone.now()
    v1 = _version("v1", "retired", promoted_at=now - timezone.timedelta(days=3))
    v2 = _version("v2", "retired", promoted_at=now - timezone.timedelta(days=2))
    v0 = _version("v0", "promoted")  # overtaken by v3 before it became active
    v3 = _version("v3", "promoted", active=True, promoted_at=now)
    v4 = _version("v4", "rejected")  # (rejected versions are never scored; pruned if they were)
    v5 = _version("v5", "promoted")  # newer than the active one: being scored now
    _scored([v1, v2, v0, v3, v4, v5], candidates)

    assert services.predictions_prune(batch_size=2) == 9
    assert _left() == {"v2": 3, "v3": 3, "v5": 3}
    assert services.predictions_prune() == 0  # idempotent
    assert ClassifierVersion.objects.count() == 6  # versions (and their artifacts' metadata) stay


def test_prune_without_an_active_version_deletes_nothing(make_candidate):
    _scored([_version("v1", "retired"), _version("v2", "promoted")], [make_candidate()])
    assert services.predictions_prune() == 0 and Prediction.objects.count() == 2


def _select(candidates, strategy="uncertainty"):
    """A stand-in for the strategies: queue ``candidates`` in that order (no features needed)."""
    def selection(version):
        return {c.pk: QueueEntry(candidate_id=c.pk, priority=float(len(candidates) - i), strategy=strategy,
                                 classifier_version=version) for i, c in enumerate(candidates)}
    return selection


def test_rescore_finish_activates_with_its_queue_and_prunes(make_candidate, monkeypatch):
    candidates = [make_candidate() for _ in range(4)]
    now = timezone.now()
    v1 = _version("v1", "retired", promoted_at=now - timezone.timedelta(days=1))
    v2 = _version("v2", "promoted", active=True, promoted_at=now)
    v3 = _version("v3", "promoted")  # just scored every candidate
    _scored([v1, v2, v3], candidates)
    make_queue_entry(candidates[0], priority=1.0, version=v2)
    monkeypatch.setattr(queue_services, "queue_selection", _select(candidates[1:3]))

    assert services.rescore_finish(version_id=v3.pk) == 2
    v2.refresh_from_db()
    v3.refresh_from_db()
    assert v3.is_active and v3.promoted_at and (v2.is_active, v2.status) == (False, "retired")
    assert list(QueueEntry.objects.order_by("-priority").values_list("candidate_id", "classifier_version__name")) == [
        (candidates[1].pk, "v3"), (candidates[2].pk, "v3")]
    assert _left() == {"v2": 4, "v3": 4}  # v1 pruned: v2 is now the previous version

    assert services.rescore_finish(version_id=v3.pk) == 2  # redelivered: same outcome
    assert _left() == {"v2": 4, "v3": 4} and QueueEntry.objects.count() == 2
    assert services.rescore_finish(version_id=v2.pk) == 0  # a retired version never comes back
    assert services.rescore_finish(version_id=v1.pk) == 0
    v3.refresh_from_db()
    assert v3.is_active and QueueEntry.objects.count() == 2


def test_an_older_promoted_version_never_replaces_a_newer_one(make_candidate, monkeypatch):
    monkeypatch.setattr(queue_services, "queue_selection", _select([make_candidate()]))
    older, newer = _version("v1", "promoted"), _version("v2", "promoted")
    assert services.rescore_finish(version_id=older.pk) == 0
    older.refresh_from_db()
    assert not older.is_active and not newer.is_active and not QueueEntry.objects.exists()


def test_queue_rebuild_from_a_version_no_longer_active_changes_nothing(make_candidate, monkeypatch):
    a, b = make_candidate(), make_candidate()
    stale = _version("v1", "promoted", active=True)
    make_queue_entry(a, priority=1.0, version=stale)
    ClassifierVersion.objects.filter(pk=stale.pk).update(is_active=False, status="retired")
    _version("v2", "promoted", active=True)
    monkeypatch.setattr(queue_services, "queue_selection",
                        lambda version: {b.pk: QueueEntry(candidate_id=b.pk, priority=5.0, strategy="random",
                                                          classifier_version=version)})
    assert services.queue_rebuild(version=stale) == 1  # (stale.is_active is still True in memory)
    assert list(QueueEntry.objects.values_list("candidate_id", flat=True)) == [a.pk]


def test_queue_rebuild_swaps_entries_and_keeps_curator_re_vets(make_candidate, monkeypatch):
    a, b, c = make_candidate(), make_candidate(), make_candidate()
    version = _version("v1", "promoted", active=True)
    make_queue_entry(a, priority=1.0, version=version)
    make_queue_entry(b, priority=9.0, strategy="re-vet")
    monkeypatch.setattr(queue_services, "queue_selection", _select([c, b]))
    assert services.queue_rebuild(version=version) == 2
    assert dict(QueueEntry.objects.values_list("candidate_id", "strategy")) == {b.pk: "re-vet", c.pk: "uncertainty"}
