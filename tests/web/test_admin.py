"""Curation admin: lists without N+1, bulk actions through services, history, no deletes, CSV."""
from __future__ import annotations

import csv
import io

import pytest
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from vetting.learning.models import QueueEntry, TrainingRun
from vetting.reviews import services
from vetting.reviews.models import Consensus, Dispute, Label, LabelSource

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_curator(curator):
    curator.is_staff = True
    curator.save()
    return curator


@pytest.fixture
def curator_client(client, staff_curator):
    client.force_login(staff_curator)
    return client


def _changelist(model) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


def _action(client, model, action, ids, **extra):
    data = {"action": action, "_selected_action": [str(i) for i in ids], **extra}
    return client.post(_changelist(model), data)


def test_every_registered_model_list_renders_for_admin(client, admin_user_role, make_candidate, vetter):
    admin_user_role.is_staff = True
    admin_user_role.save()
    services.label_create(candidate=make_candidate(), vetter=vetter, label_class="PC")
    client.force_login(admin_user_role)
    for model in admin.site._registry:
        if model._meta.app_label not in {"candidates", "reviews", "learning"}:
            continue
        response = client.get(_changelist(model))
        assert response.status_code == 200, model


def test_label_list_query_count_does_not_grow_with_rows(curator_client, make_candidate, vetter, vetter2):
    def count_queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert curator_client.get(_changelist(Label)).status_code == 200
        return len(ctx)

    services.label_create(candidate=make_candidate(), vetter=vetter, label_class="PC")
    few = count_queries()
    for _ in range(15):
        candidate = make_candidate()
        services.label_create(candidate=candidate, vetter=vetter, label_class="EB")
        services.label_create(candidate=candidate, vetter=vetter2, label_class="PC")
    assert count_queries() == few


@pytest.mark.parametrize("model", ["consensus", "dispute", "candidate"])
def test_other_lists_query_count_does_not_grow(curator_client, make_candidate, vetter, model):
    from vetting.candidates.models import Candidate

    models = {"consensus": Consensus, "dispute": Dispute, "candidate": Candidate}

    def add_rows(n):
        for _ in range(n):
            c = make_candidate()
            label = services.label_create(candidate=c, vetter=vetter, label_class="PC")
            services.dispute_open(candidate=c, opened_by=vetter, reason="looks like an EB", label=label)

    def count_queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert curator_client.get(_changelist(models[model])).status_code == 200
        return len(ctx)

    add_rows(1)
    few = count_queries()
    add_rows(10)
    assert count_queries() == few


def test_mark_gold_action_calls_service_and_records_who(curator_client, staff_curator, make_candidate, vetter):
    label = services.label_create(candidate=make_candidate(), vetter=vetter, label_class="EB")
    response = _action(curator_client, Label, "mark_gold", [label.pk])
    assert response.status_code == 302
    label.refresh_from_db()
    assert label.is_gold
    latest = label.history.latest()
    assert latest.history_user == staff_curator  # HistoryRequestMiddleware recorded the curator

    history = curator_client.get(reverse("admin:reviews_label_history", args=[label.pk]))
    assert history.status_code == 200
    assert staff_curator.username.encode() in history.content


def test_accept_consensus_sets_curated_label(curator_client, make_candidate, vetter, vetter2):
    candidate = make_candidate()
    services.label_create(candidate=candidate, vetter=vetter, label_class="EB", confidence=0.9)
    services.label_create(candidate=candidate, vetter=vetter2, label_class="EB", confidence=0.8)
    _action(curator_client, Consensus, "accept_consensus", [candidate.pk])
    curated = Label.objects.get(candidate=candidate, source=LabelSource.CURATOR, is_current=True)
    assert curated.label_class == "EB"
    assert Consensus.objects.get(candidate=candidate).method == "curator"


def test_override_consensus_goes_through_an_intermediate_page(curator_client, make_candidate, vetter):
    candidate = make_candidate()
    label = services.label_create(candidate=candidate, vetter=vetter, label_class="PC")
    page = _action(curator_client, Label, "override_consensus", [label.pk])
    assert page.status_code == 200
    assert b"Set the curated label" in page.content
    assert not Label.objects.filter(source=LabelSource.CURATOR).exists()  # nothing written yet

    # A missing note is refused and nothing is written.
    bad = _action(curator_client, Label, "override_consensus", [label.pk], apply="1", label_class="BEB", note="")
    assert bad.status_code == 200
    assert not Label.objects.filter(source=LabelSource.CURATOR).exists()

    done = _action(curator_client, Label, "override_consensus", [label.pk], apply="1", label_class="BEB",
                   note="centroid offset in the difference image")
    assert done.status_code == 302
    consensus = Consensus.objects.get(candidate=candidate)
    assert (consensus.label_class, consensus.method) == ("BEB", "curator")
    label.refresh_from_db()
    assert label.is_current  # the vetter's label is kept


def test_resolve_disputes_with_class_and_resolution(curator_client, staff_curator, make_candidate, vetter):
    candidate = make_candidate()
    label = services.label_create(candidate=candidate, vetter=vetter, label_class="PC")
    dispute = services.dispute_open(candidate=candidate, opened_by=vetter, reason="secondary eclipse", label=label)
    page = _action(curator_client, Dispute, "resolve", [dispute.pk])
    assert page.status_code == 200 and b"Resolve disputes" in page.content

    _action(curator_client, Dispute, "resolve", [dispute.pk],
            apply="1", label_class="EB", note="clear secondary at phase 0.5")
    dispute.refresh_from_db()
    assert dispute.status == Dispute.Status.RESOLVED
    assert (dispute.resolved_class, dispute.resolution, dispute.resolved_by) == (
        "EB", "clear secondary at phase 0.5", staff_curator)
    assert dispute.history.latest().history_user == staff_curator
    assert Consensus.objects.get(candidate=candidate).label_class == "EB"

    # Resolving again reports the error, changes nothing.
    again = _action(curator_client, Dispute, "resolve", [dispute.pk], apply="1", label_class="PC", note="x")
    assert again.status_code == 302
    dispute.refresh_from_db()
    assert dispute.resolved_class == "EB"


def test_requeue_creates_revet_queue_entries(curator_client, make_candidate, vetter):
    candidates = [make_candidate() for _ in range(3)]
    labels = [services.label_create(candidate=c, vetter=vetter, label_class="V") for c in candidates]
    _action(curator_client, Label, "requeue", [label.pk for label in labels])
    entries = QueueEntry.objects.filter(candidate__in=candidates)
    assert entries.count() == 3
    assert set(entries.values_list("strategy", flat=True)) == {"re-vet"}
    _action(curator_client, Label, "requeue", [labels[0].pk])  # idempotent: still one entry each
    assert QueueEntry.objects.filter(candidate__in=candidates).count() == 3


def test_exclude_vetter_labels_from_training(curator_client, make_candidate, vetter, vetter2):
    c1, c2 = make_candidate(), make_candidate()
    l1 = services.label_create(candidate=c1, vetter=vetter, label_class="PC")
    services.label_create(candidate=c2, vetter=vetter, label_class="EB")
    services.label_create(candidate=c2, vetter=vetter2, label_class="IS")
    _action(curator_client, Label, "exclude_vetters", [l1.pk])
    assert set(Label.objects.filter(vetter=vetter).values_list("excluded_from_training", flat=True)) == {True}
    assert not Label.objects.get(vetter=vetter2).excluded_from_training
    assert Consensus.objects.get(candidate=c2).label_class == "IS"


def test_request_retraining_from_admin(curator_client, staff_curator):
    page = curator_client.get(_changelist(TrainingRun))
    assert b"Request retraining" in page.content
    response = curator_client.post(reverse("admin:learning_trainingrun_request"))
    assert response.status_code == 302
    run = TrainingRun.objects.get()
    assert (run.state, run.trigger, run.requested_by) == ("queued", "admin", staff_curator)
    curator_client.post(reverse("admin:learning_trainingrun_request"))
    assert TrainingRun.objects.count() == 1  # coalesced with the queued run
    assert curator_client.get(reverse("admin:learning_trainingrun_request")).status_code == 405


def test_labels_cannot_be_deleted_or_edited_even_by_superuser(client, django_user_model, make_candidate, vetter):
    root = django_user_model.objects.create_superuser("root", "root@example.org", "pw")
    label = services.label_create(candidate=make_candidate(), vetter=vetter, label_class="PC")
    client.force_login(root)
    assert client.get(reverse("admin:reviews_label_delete", args=[label.pk])).status_code == 403
    response = _action(client, Label, "delete_selected", [label.pk], post="yes")
    assert Label.objects.filter(pk=label.pk).exists()
    assert response.status_code in (200, 302)
    change = client.post(reverse("admin:reviews_label_change", args=[label.pk]), {"label_class": "EB"})
    assert change.status_code in (200, 403)
    label.refresh_from_db()
    assert label.label_class == "PC"
    candidate_delete = reverse("admin:candidates_candidate_delete", args=[label.candidate_id])
    assert client.get(candidate_delete).status_code == 403  # would cascade to labels


def test_csv_export_streams_filtered_rows_and_neutralises_formulas(curator_client, make_candidate, vetter, vetter2):
    c = make_candidate("K00752.01")
    services.label_create(candidate=c, vetter=vetter, label_class="PC", note="=HYPERLINK(\"http://x\")")
    services.label_create(candidate=make_candidate("K00753.01"), vetter=vetter2, label_class="EB")
    response = curator_client.get(reverse("admin:reviews_label_export") + "?label_class__exact=PC")
    assert response.status_code == 200 and response.streaming
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [r["catalog_id"] for r in rows] == ["K00752.01"]
    assert rows[0]["vetter"] == "vera" and rows[0]["label_class"] == "PC"
    assert rows[0]["note"].startswith("'=")


def test_import_upload_refuses_oversized_and_empty_files(curator_client, settings):
    from django.core.files.uploadedfile import SimpleUploadedFile

    url = reverse("admin:candidates_importjob_upload")
    assert curator_client.get(url).status_code == 200
    empty = curator_client.post(url, {"kind": "catalog", "upload": SimpleUploadedFile("a.csv", b"")})
    assert b"file is empty" in empty.content
    settings.VETTING_MAX_UPLOAD_MB = 0
    big = curator_client.post(url, {"kind": "catalog", "upload": SimpleUploadedFile("a.csv", b"kepid\n1\n")})
    assert b"the limit is 0 MB" in big.content
    from vetting.candidates.models import ImportJob

    assert not ImportJob.objects.exists()


def test_vetter_and_plain_staff_cannot_curate(client, vetter, django_user_model, make_candidate):
    label = services.label_create(candidate=make_candidate(), vetter=vetter, label_class="PC")
    client.force_login(vetter)  # not staff: the admin sends them to its login page
    response = client.get(_changelist(Label))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]

    # Staff without the curator role and without label permissions cannot run a curation action.
    staff = django_user_model.objects.create_user("staffer", password="pw", is_staff=True)
    client.force_login(staff)
    assert client.get(_changelist(Label)).status_code == 403
    _action(client, Label, "mark_gold", [label.pk])
    label.refresh_from_db()
    assert not label.is_gold


def test_curator_does_not_see_user_accounts(curator_client):
    assert curator_client.get(reverse("admin:auth_user_changelist")).status_code == 403


def test_import_upload_creates_a_job_through_the_importer(curator_client, staff_curator):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from vetting.candidates.models import ImportJob

    url = reverse("admin:candidates_importjob_upload")
    wrong = curator_client.post(url, {"kind": "catalog", "upload": SimpleUploadedFile("a.pkl", b"\x80\x04K\x01.")})
    assert b"expects a file ending in" in wrong.content and not ImportJob.objects.exists()

    table = b"kepid,kepoi_name,koi_disposition,koi_period\n11446443,K00001.01,CONFIRMED,2.47\n"
    response = curator_client.post(url, {"kind": "catalog", "table": "koi", "with_catalog_labels": "on",
                                         "upload": SimpleUploadedFile("koi.csv", table)})
    job = ImportJob.objects.get()
    assert response.status_code == 302
    assert (job.kind, job.state, job.created_by) == ("catalog", "queued", staff_curator)
    assert job.options == {"table": "koi", "with_catalog_labels": True}
