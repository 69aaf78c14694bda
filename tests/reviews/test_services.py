"""reviews.services.label_create: validation, supersession, bounded queries."""
from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from vetting.reviews import services
from vetting.reviews.models import Consensus, Label

pytestmark = pytest.mark.django_db


def test_label_create_validates_fields(make_candidate, vetter):
    candidate = make_candidate()
    with pytest.raises(ValidationError) as err:
        services.label_create(candidate=candidate, vetter=vetter, label_class="PC", confidence=1.5)
    assert "confidence" in err.value.message_dict
    with pytest.raises(ValidationError) as err:
        services.label_create(candidate=candidate, vetter=None, label_class="PC")
    assert "vetter" in err.value.message_dict
    assert not Label.objects.exists()


def test_a_second_label_supersedes_the_first_in_bounded_queries(make_candidate, vetter,
                                                                django_assert_max_num_queries):
    candidate = make_candidate()
    first = services.label_create(candidate=candidate, vetter=vetter, label_class="PC")
    # lock, previous label, retire it (+ history), the vetter's assignment, insert (+ history),
    # current labels, the reliability fit, the review row (read, write), consensus upsert and the
    # savepoints around them: 22 (34 when full_clean also queried the constraints)
    with django_assert_max_num_queries(22):
        second = services.label_create(candidate=candidate.pk, vetter=vetter, label_class="EB", confidence=0.5)
    first.refresh_from_db()
    assert not first.is_current and second.is_current and second.supersedes_id == first.pk
    assert Consensus.objects.get(candidate=candidate).label_class == "EB"
