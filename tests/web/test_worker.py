"""A real Celery worker process runs a task against the real Redis broker and PostgreSQL."""
import pytest

from vetting.reviews.models import Consensus, Label
from vetting.reviews.tasks import consensus_recompute

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_worker_executes_task_against_broker_and_database(celery_worker_process, make_candidate, vetter):
    candidate = make_candidate()
    # Write a label behind the services' back, so only the task can produce the consensus row.
    Label.objects.create(candidate=candidate, vetter=vetter, label_class="EB", confidence=0.9)
    assert not Consensus.objects.filter(candidate=candidate).exists()

    result = consensus_recompute.delay([candidate.pk, 999_999_999])
    assert result.get(timeout=60) == 1

    consensus = Consensus.objects.get(candidate=candidate)
    assert consensus.label_class == "EB"
    assert consensus.method == "weighted_majority"
