"""Label writes and dispute decisions leave structured log records (JSON in production)."""
import json
import logging

import pytest

from vetting.logging import JsonFormatter
from vetting.reviews import services

pytestmark = pytest.mark.django_db


def test_label_create_and_dispute_resolve_log_structured_events(caplog, make_candidate, vetter, curator):
    candidate = make_candidate()
    with caplog.at_level(logging.INFO, logger="vetting.reviews"):
        label = services.label_create(candidate=candidate, vetter=vetter, label_class="PC")
        dispute = services.dispute_open(candidate=candidate, opened_by=vetter, reason="secondary visible", label=label)
        services.dispute_resolve(dispute=dispute, curator=curator, resolved_class="EB", resolution="clear secondary")
    # Only our events: caplog also sees records of other loggers (e.g. a live server thread).
    ours = [r for r in caplog.records if hasattr(r, "event")]
    assert [r.event for r in ours] == ["label_create", "dispute_open", "dispute_resolve"]
    payload = json.loads(JsonFormatter().format(ours[0]))
    assert payload["event"] == "label_create"
    assert payload["label_id"] == label.pk and payload["candidate_id"] == candidate.pk
    assert payload["label_class"] == "PC"
