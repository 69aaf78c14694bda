"""Curation admin for labels, disputes and consensus.

Labels and disputes are history: no add, no in-place edit, no delete from here. Curators act
through bulk actions that call ``vetting.reviews.services`` (``vetting.learning.admin`` adds
"send back to the queue" and the suspected-mislabel filter to these lists); the "History" button
shows who changed what and when.
"""
from __future__ import annotations

import logging

from django.contrib import admin, messages
from django.db.models import Count, Q
from django.urls import reverse
from django.utils.html import format_html
from simple_history.admin import SimpleHistoryAdmin

from vetting.candidates.models import Candidate
from vetting.core.admin_tools import (
    CandidateSubsetFilter,
    CsvExportMixin,
    CurationMixin,
    HistoryOnlyMixin,
    candidate_filter,
    class_choice_step,
    extend_admin,
    run_service_per_object,
)
from vetting.reviews import services
from vetting.reviews.models import (
    CandidateReview,
    Consensus,
    Dispute,
    DisputeComment,
    KnownAnswer,
    Label,
    LabelSource,
    ReliabilityFit,
)

logger = logging.getLogger("vetting.admin")


def _candidate_link(candidate) -> str:
    url = reverse("admin:candidates_candidate_change", args=[candidate.pk])
    return format_html('<a href="{}">{}</a>', url, candidate.catalog_id)


class DisputedFilter(CandidateSubsetFilter):
    title = "open dispute"
    parameter_name = "disputed"

    def candidate_ids(self):
        return Dispute.objects.filter(status=Dispute.Status.OPEN).values("candidate_id")


def _curate(model_admin, request, candidate_ids, label_class_of, note: str, done: str) -> None:
    """Set the curated label of each candidate (``label_class_of(candidate_id)`` -> class or None)."""
    todo = [(pk, label_class_of(pk)) for pk in sorted(set(candidate_ids))]
    skipped = [pk for pk, cls in todo if not cls]
    if skipped:
        model_admin.message_user(
            request, f"{len(skipped)} candidate(s) have no consensus yet and were skipped.", messages.WARNING
        )

    def call(item):
        pk, cls = item
        services.curator_label_set(candidate=pk, curator=request.user, label_class=cls, note=note)
        logger.info(
            "curated label set",
            extra={"event": "curator_label_set", "candidate_id": pk, "label_class": cls,
                   "curator": request.user.username},
        )

    run_service_per_object(request, [t for t in todo if t[1]], call, done=done, admin_obj=model_admin)


class CurationActionsMixin(CurationMixin):
    """Actions shared by the label and consensus lists; ``_candidate_ids(queryset)`` maps rows."""

    def _candidate_ids(self, queryset) -> list[int]:
        return list(queryset.values_list("candidate_id", flat=True).distinct())

    @admin.action(description="Accept consensus as the curated label", permissions=["curate"])
    def accept_consensus(self, request, queryset):
        ids = self._candidate_ids(queryset)
        classes = dict(Consensus.objects.filter(candidate_id__in=ids).values_list("candidate_id", "label_class"))
        _curate(self, request, ids, classes.get, "Consensus accepted in admin", "Consensus accepted")

    @admin.action(description="Override consensus: set a curated class…", permissions=["curate"])
    def override_consensus(self, request, queryset):
        ids = self._candidate_ids(queryset)

        def apply(label_class, note):
            _curate(self, request, ids, lambda _pk: label_class, note, f"Curated label set to {label_class}")

        return class_choice_step(
            self, request, queryset, action="override_consensus", title="Set the curated label",
            intro="The chosen class becomes the curated label of each selected candidate; it overrides "
                  "the vetters' majority. Vetter labels are kept.",
            apply=apply,
        )


# --- Labels ------------------------------------------------------------------------------------

@admin.register(Label)
class LabelAdmin(CurationActionsMixin, CsvExportMixin, HistoryOnlyMixin, SimpleHistoryAdmin):
    list_display = (
        "id", "candidate_link", "mission", "vetter", "label_class", "confidence", "source",
        "is_current", "is_gold", "excluded_from_training", "created_at",
    )
    list_select_related = ("candidate", "candidate__target", "vetter")
    list_filter = (
        ("vetter", admin.RelatedOnlyFieldListFilter), "label_class", "source", "is_current", "is_gold",
        "excluded_from_training", DisputedFilter, "candidate__target__mission",
        "candidate__source_catalog", "created_at",
    )
    search_fields = ("candidate__catalog_id", "candidate__target__catalog_id", "=vetter__username")
    date_hierarchy = "created_at"
    list_per_page = 100
    show_full_result_count = False  # COUNT(*) on a big table on every page is wasted work
    actions = [
        "mark_gold", "unmark_gold", "adopt_as_curated", "accept_consensus", "override_consensus",
        "exclude_vetters", "include_vetters", "export_csv",
    ]
    csv_select_related = ("candidate", "candidate__target", "vetter", "candidate__known_answer")
    csv_columns = (
        ("label_id", "pk"), ("mission", "candidate.target.mission"), ("source_catalog", "candidate.source_catalog"),
        ("catalog_id", "candidate.catalog_id"), ("target", "candidate.target.catalog_id"),
        ("vetter", "vetter.username"), ("label_class", "label_class"), ("confidence", "confidence"),
        ("source", "source"), ("is_current", "is_current"), ("is_gold", "is_gold"),
        ("excluded_from_training", "excluded_from_training"), ("supersedes_id", "supersedes_id"),
        ("seconds_spent", "seconds_spent"), ("note", "note"), ("created_at", "created_at"),
        # "injected": a known-answer check made by injection, never a real candidate's label
        ("known_answer", "candidate.known_answer.source"),
    )

    @admin.display(description="candidate", ordering="candidate__catalog_id")
    def candidate_link(self, obj):
        return _candidate_link(obj.candidate)

    @admin.display(description="mission", ordering="candidate__target__mission")
    def mission(self, obj):
        return obj.candidate.target.mission

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    @admin.action(description="Mark as gold (curated ground truth)", permissions=["curate"])
    def mark_gold(self, request, queryset):
        run_service_per_object(
            request, queryset, lambda label: services.label_set_gold(label=label, curator=request.user, is_gold=True),
            done="Marked gold", admin_obj=self,
        )

    @admin.action(description="Unmark gold", permissions=["curate"])
    def unmark_gold(self, request, queryset):
        run_service_per_object(
            request, queryset, lambda label: services.label_set_gold(label=label, curator=request.user, is_gold=False),
            done="Gold removed", admin_obj=self,
        )

    @admin.action(description="Adopt these labels as the curated labels", permissions=["curate"])
    def adopt_as_curated(self, request, queryset):
        chosen = {}
        for label in queryset.order_by("created_at"):  # the newest selected label per candidate wins
            chosen[label.candidate_id] = label
        _curate(
            self, request, list(chosen), lambda pk: chosen[pk].label_class,
            "Adopted from label(s) in admin", "Curated label set",
        )

    def _vetters(self, queryset):
        from django.contrib.auth import get_user_model

        ids = queryset.filter(source=LabelSource.HUMAN).values_list("vetter_id", flat=True).distinct()
        return get_user_model().objects.filter(pk__in=list(ids))

    @admin.action(description="Exclude these vetters' labels from training", permissions=["curate"])
    def exclude_vetters(self, request, queryset):
        def call(vetter):
            n = services.vetter_labels_exclude(vetter=vetter, curator=request.user, excluded=True)
            logger.info("vetter labels excluded", extra={"event": "vetter_labels_exclude", "vetter": vetter.username,
                                                         "n_labels": n, "curator": request.user.username})

        run_service_per_object(request, self._vetters(queryset), call, done="Vetters excluded", admin_obj=self)

    @admin.action(description="Re-include these vetters' labels in training", permissions=["curate"])
    def include_vetters(self, request, queryset):
        run_service_per_object(
            request, self._vetters(queryset),
            lambda v: services.vetter_labels_exclude(vetter=v, curator=request.user, excluded=False),
            done="Vetters re-included", admin_obj=self,
        )


# --- Disputes ----------------------------------------------------------------------------------

class DisputeCommentInline(admin.TabularInline):
    model = DisputeComment
    extra = 0
    fields = ("author", "text", "created_at")
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("author")


@admin.register(Dispute)
class DisputeAdmin(CurationMixin, CsvExportMixin, HistoryOnlyMixin, SimpleHistoryAdmin):
    list_display = (
        "id", "candidate_link", "subject", "status", "disputed_class", "proposed_class", "model_version",
        "opened_by", "resolved_class", "resolved_by", "created_at",
    )
    list_select_related = ("candidate", "opened_by", "resolved_by")
    list_filter = ("status", "subject", "disputed_class", "proposed_class", "resolved_class",
                   ("opened_by", admin.RelatedOnlyFieldListFilter), "created_at")
    search_fields = ("candidate__catalog_id", "candidate__target__catalog_id", "reason")
    date_hierarchy = "created_at"
    inlines = [DisputeCommentInline]
    actions = ["resolve", "export_csv"]
    csv_select_related = ("candidate", "opened_by", "resolved_by")
    csv_columns = (
        ("dispute_id", "pk"), ("catalog_id", "candidate.catalog_id"), ("subject", "subject"), ("status", "status"),
        ("label_id", "label_id"), ("model_version", "model_version"), ("disputed_class", "disputed_class"),
        ("proposed_class", "proposed_class"), ("reason", "reason"), ("opened_by", "opened_by.username"),
        ("resolved_class", "resolved_class"), ("resolution", "resolution"), ("resolved_by", "resolved_by.username"),
        ("resolved_at", "resolved_at"), ("created_at", "created_at"),
    )

    @admin.display(description="candidate", ordering="candidate__catalog_id")
    def candidate_link(self, obj):
        return _candidate_link(obj.candidate)

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    @admin.action(description="Resolve disputes: choose the class…", permissions=["curate"])
    def resolve(self, request, queryset):
        open_disputes = queryset.filter(status=Dispute.Status.OPEN)

        def apply(label_class, note):
            def call(dispute):
                # The service logs the "dispute_resolve" event itself.
                services.dispute_resolve(dispute=dispute, curator=request.user, resolved_class=label_class,
                                         resolution=note)

            # All selected, not only the open ones: an already-resolved dispute is reported, not skipped silently.
            run_service_per_object(request, queryset, call, done="Disputes resolved", admin_obj=self)

        if not open_disputes.exists():
            self.message_user(request, "None of the selected disputes is open.", messages.WARNING)
            return None
        return class_choice_step(
            self, request, queryset, action="resolve", title="Resolve disputes",
            intro="The chosen class becomes the curated label of each disputed candidate; the resolution "
                  "text is stored on the dispute and shown to the people who opened it.",
            apply=apply,
        )


# --- Consensus ---------------------------------------------------------------------------------

@admin.register(Consensus)
class ConsensusAdmin(CurationActionsMixin, CsvExportMixin, HistoryOnlyMixin, admin.ModelAdmin):
    list_display = (
        "candidate_link", "mission", "label_class", "agreement", "n_labels", "rule", "needs_review",
        "n_open_disputes", "updated_at",
    )
    list_select_related = ("candidate", "candidate__target")
    list_filter = ("label_class", "method", "needs_review", DisputedFilter,
                   "candidate__target__mission", "candidate__source_catalog", "updated_at")
    search_fields = ("candidate__catalog_id", "candidate__target__catalog_id")
    date_hierarchy = "updated_at"
    actions = ["accept_consensus", "override_consensus", "recompute", "use_as_known_answers", "export_csv"]
    csv_select_related = ("candidate", "candidate__target")
    csv_columns = (
        ("catalog_id", "candidate.catalog_id"), ("source_catalog", "candidate.source_catalog"),
        ("mission", "candidate.target.mission"), ("label_class", "label_class"), ("agreement", "agreement"),
        ("n_labels", "n_labels"), ("method", "method"), ("needs_review", "needs_review"), ("updated_at", "updated_at"),
    )

    def get_queryset(self, request):
        # One aggregate in the list query instead of one COUNT per row.
        return super().get_queryset(request).annotate(
            open_disputes=Count("candidate__disputes", filter=Q(candidate__disputes__status="open"))
        )

    @admin.display(description="candidate", ordering="candidate__catalog_id")
    def candidate_link(self, obj):
        return _candidate_link(obj.candidate)

    @admin.display(description="mission", ordering="candidate__target__mission")
    def mission(self, obj):
        return obj.candidate.target.mission

    @admin.display(description="open disputes", ordering="open_disputes")
    def n_open_disputes(self, obj):
        return obj.open_disputes

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    @admin.action(description="Recompute consensus from the current labels", permissions=["curate"])
    def recompute(self, request, queryset):
        n = services.consensus_recompute_many(candidate_ids=self._candidate_ids(queryset))
        self.message_user(request, f"Recomputed {n} consensus label(s).", messages.SUCCESS)


    @admin.action(description="Use as known-answer checks in vetters' queues (settled ones)", permissions=["curate"])
    def use_as_known_answers(self, request, queryset):
        n = services.known_answer_set(candidate_ids=self._candidate_ids(queryset), curator=request.user)
        self.message_user(request, f"{n} candidate(s) are now known-answer checks.", messages.SUCCESS)

    @admin.display(description="rule")
    def rule(self, obj):
        """Which rule made the label: a curator, a gold label, Dawid-Skene, weighted majority, catalog."""
        return obj.method


# --- Overlap and reliability ---------------------------------------------------------------------

def _labels_required_step(model_admin, request, candidate_ids: list[int]):
    """Ask for a number of labels, then set it on every candidate (the whole filtered list when
    "select all" is used: a curator raises the overlap for a filter this way)."""
    from django import forms
    from django.template.response import TemplateResponse

    class RequiredForm(forms.Form):
        labels_required = forms.IntegerField(min_value=1, max_value=20, label="Independent labels needed")

    if request.POST.get("apply_required"):
        form = RequiredForm(request.POST)
        if form.is_valid():
            n = services.labels_required_set(candidate_ids=candidate_ids, curator=request.user,
                                             labels_required=form.cleaned_data["labels_required"])
            model_admin.message_user(request, f"{n} candidate(s) now need "
                                              f"{form.cleaned_data['labels_required']} labels.", messages.SUCCESS)
            return None
    else:
        form = RequiredForm()
    return TemplateResponse(request, "admin/vetting/labels_required.html", {
        **model_admin.admin_site.each_context(request), "title": "Independent labels needed", "form": form,
        "candidate_ids": candidate_ids, "action": request.POST.get("action"),
        "selected": request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME),
        "select_across": request.POST.get("select_across", "0"), "opts": model_admin.model._meta,
    })


@admin.action(description="Ask for more independent labels…", permissions=["curate"])
def require_labels(model_admin, request, queryset):
    return _labels_required_step(model_admin, request, list(queryset.values_list("pk", flat=True)))


@admin.register(CandidateReview)
class CandidateReviewAdmin(CurationMixin, admin.ModelAdmin):
    """Overlap per candidate: labels counted, wanted, still open, ties, known answers."""

    list_display = ("candidate_link", "n_labels", "labels_wanted", "labels_required", "is_open", "needs_review",
                    "is_known_answer", "updated_at")
    list_select_related = ("candidate",)
    list_filter = ("is_open", "needs_review", "is_known_answer", "labels_wanted")
    search_fields = ("candidate__catalog_id",)
    readonly_fields = ("candidate", "n_labels", "labels_wanted", "labels_required", "is_open", "needs_review",
                       "is_known_answer", "updated_at")
    actions = ["require_labels"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="candidate", ordering="candidate__catalog_id")
    def candidate_link(self, obj):
        return _candidate_link(obj.candidate)

    @admin.action(description="Ask for more independent labels…", permissions=["curate"])
    def require_labels(self, request, queryset):
        return _labels_required_step(self, request, list(queryset.values_list("candidate_id", flat=True)))


@admin.register(KnownAnswer)
class KnownAnswerAdmin(CurationMixin, admin.ModelAdmin):
    """Known-answer checks and their truth (``manage.py inject_known_answers`` makes injected ones)."""

    list_display = ("candidate_link", "source", "true_class", "injected_snr", "created_at")
    list_select_related = ("candidate",)
    list_filter = ("source", "true_class")
    search_fields = ("candidate__catalog_id",)
    readonly_fields = ("candidate", "source", "true_class", "injected_snr", "parameters", "created_at")

    def has_add_permission(self, request):
        return False

    @admin.display(description="candidate", ordering="candidate__catalog_id")
    def candidate_link(self, obj):
        return _candidate_link(obj.candidate)


@admin.register(ReliabilityFit)
class ReliabilityFitAdmin(admin.ModelAdmin):
    """The Dawid-Skene fits (read-only; the team page shows the newest per vetter)."""

    list_display = ("id", "created_at", "n_labels", "n_items", "n_fixed", "n_iter", "log_likelihood")
    readonly_fields = ("classes", "priors", "vetters", "n_items", "n_labels", "n_fixed", "n_iter", "log_likelihood",
                       "created_at")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


# The candidate list (candidates cannot import reviews): filter on open disputes; curators can
# raise the number of independent labels of the selected (or all filtered) candidates.
extend_admin(Candidate, list_filters=[candidate_filter(DisputedFilter, "pk")], actions=[require_labels])
