"""Admin for training runs, classifier versions (with promotion history), predictions, the queue
and mislabel flags. Everything here is produced by the learning services: read-only, plus
"Request retraining" and "send back for re-vetting", which call those services.
"""
from __future__ import annotations

import logging

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.urls import path, reverse
from django.views.decorators.http import require_POST
from simple_history.admin import SimpleHistoryAdmin

from vetting.candidates.models import Candidate
from vetting.core.admin_tools import (
    CandidateSubsetFilter,
    CsvExportMixin,
    CurationMixin,
    HistoryOnlyMixin,
    candidate_filter,
    extend_admin,
)
from vetting.core.roles import is_curator
from vetting.learning.models import ClassifierVersion, MislabelFlag, Prediction, QueueEntry, QueueSettings, TrainingRun
from vetting.reviews.models import Consensus, Dispute, Label

logger = logging.getLogger("vetting.admin")


@admin.register(TrainingRun)
class TrainingRunAdmin(CurationMixin, HistoryOnlyMixin, admin.ModelAdmin):
    list_display = ("id", "state", "trigger", "requested_by", "progress", "message", "n_labels",
                    "created_at", "started_at", "finished_at")
    list_select_related = ("requested_by",)
    list_filter = ("state", "trigger", "created_at")
    change_list_template = "admin/vetting/change_list_tools.html"

    def get_urls(self):
        return [
            path("request/", self.admin_site.admin_view(require_POST(self.request_view)),
                 name="learning_trainingrun_request"),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra_context = extra_context or {}
        if self.has_retrain_permission(request):
            extra_context["retrain_url"] = reverse("admin:learning_trainingrun_request")
        return super().changelist_view(request, extra_context)

    def request_view(self, request):
        """POST: ask for a retrain (coalesces with an already queued run)."""
        if not self.has_retrain_permission(request):
            raise PermissionDenied
        from vetting.learning.services.runs import training_run_request

        run = training_run_request(trigger=TrainingRun.Trigger.ADMIN, requested_by=request.user)
        logger.info("training requested from admin", extra={
            "event": "training_run_request", "training_run_id": run.pk, "state": run.state,
            "user": request.user.username,
        })
        self.message_user(request, f"Training run #{run.pk} is {run.state}.", messages.SUCCESS)
        return redirect("admin:learning_trainingrun_changelist")


@admin.register(ClassifierVersion)
class ClassifierVersionAdmin(CurationMixin, HistoryOnlyMixin, SimpleHistoryAdmin):
    """Versions and their promotion history (who promoted or retired which model, when)."""

    list_display = ("name", "origin", "status", "is_active", "n_labels", "code_version", "created_at", "promoted_at")
    list_filter = ("status", "origin", "is_active", "created_at")
    search_fields = ("name", "label_snapshot_hash")
    history_list_display = ("status", "is_active")
    actions = ["reproduce"]

    @admin.action(description="Reproduce the selected models (background job; result on the model card)",
                  permissions=["curate"])
    def reproduce(self, request, queryset):
        from vetting.learning.services.modelcard import SnapshotMissing, reproduce_request

        for version in queryset:
            try:
                state = reproduce_request(version=version, requested_by=request.user)
            except SnapshotMissing as exc:
                self.message_user(request, str(exc), messages.WARNING)
            else:
                self.message_user(request, f"Reproduction of {version.name}: {state['state']}.", messages.SUCCESS)


@admin.register(QueueSettings)
class QueueSettingsAdmin(SimpleHistoryAdmin):
    """The queue's strategy mix, editable by curators (saved through ``queue_settings_update``,
    which validates it and rebuilds the queue). One row; the model page explains the trade-off."""

    list_display = ("__str__", "mix", "updated_by", "updated_at")
    fields = ("mix",)

    def has_view_permission(self, request, obj=None) -> bool:
        return is_curator(request.user)

    def has_change_permission(self, request, obj=None) -> bool:
        return is_curator(request.user)

    def has_add_permission(self, request) -> bool:
        return is_curator(request.user) and not QueueSettings.objects.exists()

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def save_model(self, request, obj, form, change) -> None:
        from vetting.learning.services.queue import queue_settings_update

        queue_settings_update(mix=obj.mix, user=request.user)


@admin.register(Prediction)
class PredictionAdmin(CsvExportMixin, HistoryOnlyMixin, admin.ModelAdmin):
    list_display = ("candidate", "classifier_version", "predicted_class", "p_planet", "uncertainty",
                    "disagreement", "created_at")
    list_select_related = ("candidate", "classifier_version")
    list_filter = ("classifier_version", "predicted_class")
    search_fields = ("candidate__catalog_id", "candidate__target__catalog_id")
    show_full_result_count = False
    actions = ["export_csv"]
    csv_select_related = ("candidate", "classifier_version")
    csv_columns = (
        ("catalog_id", "candidate.catalog_id"), ("version", "classifier_version.name"),
        ("predicted_class", "predicted_class"), ("p_planet", "p_planet"), ("p_triage", "p_triage"),
        ("uncertainty", "uncertainty"), ("disagreement", "disagreement"), ("probabilities", "probabilities"),
    )

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions


@admin.register(QueueEntry)
class QueueEntryAdmin(HistoryOnlyMixin, admin.ModelAdmin):
    list_display = ("candidate", "priority", "strategy", "classifier_version", "created_at")
    list_select_related = ("candidate", "classifier_version")
    list_filter = ("strategy",)
    search_fields = ("candidate__catalog_id",)


@admin.register(MislabelFlag)
class MislabelFlagAdmin(CurationMixin, HistoryOnlyMixin, admin.ModelAdmin):
    list_display = ("candidate", "given_class", "suggested_class", "score", "is_open", "training_run", "created_at")
    list_select_related = ("candidate", "training_run")
    list_filter = ("is_open", "given_class", "suggested_class")
    search_fields = ("candidate__catalog_id",)
    actions = ["requeue"]


class SuspectedMislabelFilter(CandidateSubsetFilter):
    """Candidates whose consensus the cross-validated model flagged (open ``MislabelFlag``)."""

    title = "suspected mislabel"
    parameter_name = "mislabel"

    def candidate_ids(self):
        return MislabelFlag.objects.filter(is_open=True).values("candidate_id")


@admin.action(description="Send back to the queue for re-vetting", permissions=["curate"])
def requeue(model_admin, request, queryset):
    """Put the selected rows' candidates back in the vetting queue (strategy ``re-vet``)."""
    from vetting.learning.services.queue import queue_requeue

    field = "pk" if queryset.model is Candidate else "candidate_id"
    ids = list(queryset.values_list(field, flat=True).distinct())
    reason = f"mislabel flag, admin: {request.user}" if queryset.model is MislabelFlag else f"admin: {request.user}"
    n = queue_requeue(candidate_ids=ids, reason=reason)
    model_admin.message_user(request, f"Sent {n} candidate(s) back to the vetting queue (re-vet).", messages.SUCCESS)


MislabelFlagAdmin.actions = [requeue]
# The lists of the apps below (which cannot import learning) get the queue action and the filter.
extend_admin(Candidate, actions=[requeue], list_filters=[candidate_filter(SuspectedMislabelFilter, "pk")])
extend_admin(Label, actions=[requeue], list_filters=[SuspectedMislabelFilter])
extend_admin(Consensus, actions=[requeue], list_filters=[SuspectedMislabelFilter])
extend_admin(Dispute, actions=[requeue])
