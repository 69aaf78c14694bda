"""Admin for targets, candidates, light curves and import jobs.

Read-only lists (candidates carry labels: deleting one would lose them, so nobody deletes from
here); CSV export of candidates; CSV import through the same import-job code path as the site
and the API (``vetting.candidates.services.import_job_create``).
"""
from __future__ import annotations

import logging

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from classifier import catalogs
from vetting.candidates.models import Candidate, ImportJob, LightCurve, Mission, Target
from vetting.core.admin_tools import CsvExportMixin, CurationMixin, HistoryOnlyMixin

logger = logging.getLogger("vetting.admin")


@admin.register(Target)
class TargetAdmin(HistoryOnlyMixin, admin.ModelAdmin):
    list_display = ("catalog_id", "mission", "magnitude", "teff_k", "radius_rsun", "created_at")
    list_filter = ("mission",)
    search_fields = ("catalog_id",)


class ConsensusClassFilter(admin.SimpleListFilter):
    title = "consensus class"
    parameter_name = "consensus"

    def lookups(self, request, model_admin):
        from classifier.vocabulary import CLASSES

        return (("none", "No consensus"), *CLASSES)

    def queryset(self, request, queryset):
        if self.value() == "none":
            return queryset.filter(consensus__isnull=True)
        if self.value():
            return queryset.filter(consensus__label_class=self.value())
        return queryset


@admin.register(Candidate)
class CandidateAdmin(CurationMixin, CsvExportMixin, HistoryOnlyMixin, admin.ModelAdmin):
    list_display = (
        "catalog_id", "target", "mission", "source_catalog", "period_days", "depth_ppm", "snr",
        "catalog_disposition", "consensus_class", "created_at",
    )
    # "consensus" is the reverse one-to-one from reviews: joined, so the column costs no query per row.
    list_select_related = ("target", "consensus")
    list_filter = (
        # reviews and learning add their filters here (open dispute, suspected mislabel)
        "target__mission", "source_catalog", "catalog_disposition", ConsensusClassFilter, "created_at",
    )
    search_fields = ("catalog_id", "target__catalog_id")
    date_hierarchy = "created_at"
    actions = ["export_csv"]  # learning adds "send back to the queue"
    csv_select_related = ("target", "consensus")
    csv_columns = (
        ("mission", "target.mission"), ("target", "target.catalog_id"), ("source_catalog", "source_catalog"),
        ("catalog_id", "catalog_id"), ("period_days", "period_days"), ("epoch", "epoch"),
        ("epoch_system", "epoch_system"), ("duration_hours", "duration_hours"), ("depth_ppm", "depth_ppm"),
        ("snr", "snr"), ("impact", "impact"), ("planet_radius_rearth", "planet_radius_rearth"),
        ("catalog_disposition", "catalog_disposition"), ("catalog_score", "catalog_score"),
        ("consensus_class", lambda c: getattr(getattr(c, "consensus", None), "label_class", None)),
    )

    def get_queryset(self, request):
        # The list never needs the stored views and plot arrays (KBs per row).
        return super().get_queryset(request).light()

    @admin.display(description="mission", ordering="target__mission")
    def mission(self, obj):
        return obj.target.mission

    @admin.display(description="consensus")
    def consensus_class(self, obj):
        consensus = getattr(obj, "consensus", None)
        return consensus.label_class if consensus else "—"

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions


@admin.register(LightCurve)
class LightCurveAdmin(HistoryOnlyMixin, admin.ModelAdmin):
    list_display = (
        "id", "target", "candidate", "kind", "mission", "sector", "quarter", "n_points", "source", "created_at",
    )
    list_select_related = ("target", "candidate")
    list_filter = ("mission", "kind", "source")
    search_fields = ("target__catalog_id", "candidate__catalog_id", "original_filename")


# --- Import jobs and the CSV upload -----------------------------------------------------------

class ImportUploadForm(forms.Form):
    """An uploaded file and its importer options.

    Name, size and content are checked by ``import_job_create`` (``vetting.candidates.uploads``,
    the check the API uses too); its errors come back on the ``upload`` field.
    """

    kind = forms.ChoiceField(choices=ImportJob.Kind.choices, initial=ImportJob.Kind.CATALOG)
    upload = forms.FileField(help_text="catalog: .csv/.tsv/.tbl; FITS light curve: .fits; folded views: .zip")
    table = forms.ChoiceField(
        required=False, help_text="catalog tables only; blank = detect from the columns",
        choices=[("", "detect"), *catalogs.TABLE_TITLES.items()],
    )
    with_catalog_labels = forms.BooleanField(
        required=False,
        help_text="also import the catalog dispositions as catalog labels (never overwrites vetter labels)",
    )
    mission = forms.ChoiceField(required=False, choices=[("", "detect"), *Mission.choices[:3]], help_text="FITS only")

    def options(self) -> dict:
        """The importer options this kind understands (see ``import_job_create``)."""
        data, kind = self.cleaned_data, self.cleaned_data["kind"]
        if kind == ImportJob.Kind.CATALOG:
            return {"table": data["table"] or None, "with_catalog_labels": data["with_catalog_labels"]}
        if kind == ImportJob.Kind.VIEWS:
            return {"with_catalog_labels": data["with_catalog_labels"]}
        return {"mission": data["mission"]} if data["mission"] else {}



@admin.register(ImportJob)
class ImportJobAdmin(CurationMixin, HistoryOnlyMixin, admin.ModelAdmin):
    list_display = ("id", "kind", "state", "progress", "counts", "created_by", "created_at", "finished_at")
    list_select_related = ("created_by",)
    list_filter = ("kind", "state", "created_at")
    change_list_template = "admin/vetting/change_list_tools.html"

    def has_import_permission(self, request) -> bool:
        return request.user.has_perm("candidates.add_importjob")

    def get_urls(self):
        return [
            path("upload/", self.admin_site.admin_view(self.upload_view), name="candidates_importjob_upload"),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra_context = extra_context or {}
        if self.has_import_permission(request):
            extra_context["import_url"] = reverse("admin:candidates_importjob_upload")
        return super().changelist_view(request, extra_context)

    def upload_view(self, request):
        """Upload a file and create an import job through the candidates service."""
        if not self.has_import_permission(request):
            raise PermissionDenied
        form = ImportUploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            from vetting.candidates.services import import_job_create

            try:
                job = import_job_create(
                    kind=form.cleaned_data["kind"], upload=form.cleaned_data["upload"], options=form.options(),
                    created_by=request.user,
                )
            except ValidationError as exc:
                for field, errors in exc.message_dict.items() if hasattr(exc, "error_dict") else [(None, exc.messages)]:
                    form.add_error(field if field in form.fields else None, errors)
            except ValueError as exc:
                form.add_error(None, str(exc))
            else:
                logger.info("import job created from admin", extra={
                    "event": "import_job_create", "import_job_id": job.pk, "kind": job.kind,
                    "user": request.user.username,
                })
                self.message_user(request, f"Import job #{job.pk} queued.", messages.SUCCESS)
                return redirect("admin:candidates_importjob_change", job.pk)
        context = {
            **self.admin_site.each_context(request),
            "title": "Import a file",
            "opts": self.model._meta,
            "form": form,
            "max_mb": settings.VETTING_MAX_UPLOAD_MB,
        }
        return TemplateResponse(request, "admin/vetting/import_upload.html", context)
