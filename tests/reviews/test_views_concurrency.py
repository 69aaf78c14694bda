"""Two vetters submitting labels on the same candidate at the same moment both keep their label."""
from __future__ import annotations

import threading

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from vetting.reviews.models import CandidateReview, Consensus, Label


@pytest.mark.django_db(transaction=True)
def test_two_vetters_label_the_same_candidate_at_once(vetter, vetter2, make_candidate):
    candidate = make_candidate()
    url = reverse("label-create", args=[candidate.pk])
    start = threading.Barrier(2)
    results: dict[str, object] = {}

    def submit(user, label_class):
        try:
            client = Client()
            client.force_login(user)
            start.wait(timeout=10)  # both POSTs leave together
            results[user.username] = client.post(url, {"label_class": label_class, "confidence": "1.0"}).status_code
        except Exception as exc:  # reported below; a thread must not die silently
            results[user.username] = exc
        finally:
            connection.close()  # each thread has its own PostgreSQL connection

    threads = [threading.Thread(target=submit, args=(vetter, "PC")),
               threading.Thread(target=submit, args=(vetter2, "EB"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert results == {"vera": 302, "victor": 302}
    current = dict(Label.objects.filter(candidate=candidate, is_current=True)
                   .values_list("vetter__username", "label_class"))
    assert current == {"vera": "PC", "victor": "EB"}
    # a 1:1 tie is no label (never silently the first class): it waits for a curator or a third label
    assert not Consensus.objects.filter(candidate=candidate).exists()
    review = CandidateReview.objects.get(candidate=candidate)
    assert (review.n_labels, review.needs_review, review.is_open, review.labels_wanted) == (2, True, True, 3)
