"""Shared pieces of the curation admin: role-gated actions, read-only history, CSV export.

The admin is an interface layer (DESIGN.md): every write goes through a service. These mixins
keep the per-app ``admin.py`` files short and make the rules the same everywhere:

* curation actions need the *curate* permission (group ``curator`` or ``admin``);
* nothing that is history (labels, disputes, model versions, runs) can be deleted or edited
  in place from the admin: only the services change it;
* exports stream (``StreamingHttpResponse`` over ``.iterator()``), so a large table never sits
  in memory, and neutralise spreadsheet formulas (CSV injection).
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, StreamingHttpResponse
from django.urls import path, reverse
from django.utils import timezone

from classifier.vocabulary import CLASSES
from vetting.core.export import streaming_download
from vetting.core.roles import is_admin, is_curator

logger = logging.getLogger("vetting.admin")



class CurationMixin:
    """Gate curation actions on the curator/admin role (``allowed_permissions = ("curate",)``)."""

    def has_curate_permission(self, request: HttpRequest) -> bool:
        return is_curator(request.user)

    def has_retrain_permission(self, request: HttpRequest) -> bool:
        return is_curator(request.user) and request.user.has_perm("learning.add_trainingrun")


class HistoryOnlyMixin:
    """No add, no in-place edit, no delete: rows change only through services (history kept)."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class AdminOnlyDeleteMixin:
    """Only the admin role may delete (curators curate, they do not remove data)."""

    def has_delete_permission(self, request, obj=None) -> bool:
        return is_admin(request.user) and super().has_delete_permission(request, obj)


class CsvExportMixin:
    """``export_csv`` action (selected rows) and an ``export/`` URL (the filtered change list).

    Subclasses set ``csv_columns``: a list of ``(header, accessor)`` where accessor is an
    attribute path (``"candidate.catalog_id"``) or a callable ``obj -> value``, and
    ``csv_select_related`` for the joins the accessors need.
    """

    csv_columns: Sequence[tuple[str, str | Callable]] = ()
    csv_select_related: Sequence[str] = ()
    change_list_template = "admin/vetting/change_list_tools.html"

    def _csv_value(self, obj, accessor):
        if callable(accessor):
            return accessor(obj)
        value = obj
        for part in accessor.split("."):
            value = getattr(value, part, None)
            if value is None:
                return None
        return value

    def csv_response(self, queryset) -> StreamingHttpResponse:
        queryset = queryset.select_related(*self.csv_select_related).order_by("pk")
        rows = ([self._csv_value(obj, a) for _, a in self.csv_columns] for obj in queryset.iterator(chunk_size=2000))
        name = f"{self.model._meta.model_name}s-{timezone.now():%Y%m%d-%H%M%S}"
        return streaming_download([h for h, _ in self.csv_columns], rows, fmt="csv", filename=name)

    @admin.action(description="Export selected rows as CSV", permissions=["view"])
    def export_csv(self, request, queryset):
        return self.csv_response(queryset)

    def export_filtered_view(self, request):
        """Export everything the change list currently shows (its filters and search)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        changelist = self.get_changelist_instance(request)
        return self.csv_response(changelist.get_queryset(request))

    def changelist_view(self, request, extra_context=None):
        opts = self.model._meta
        export_url = reverse(f"admin:{opts.app_label}_{opts.model_name}_export")
        extra_context = {"export_url": export_url, **(extra_context or {})}
        return super().changelist_view(request, extra_context)

    def get_urls(self):
        opts = self.model._meta
        extra = [
            path(
                "export/",
                self.admin_site.admin_view(self.export_filtered_view),
                name=f"{opts.app_label}_{opts.model_name}_export",
            )
        ]
        return extra + super().get_urls()


class ClassChoiceForm(forms.Form):
    """Intermediate page: pick a class and write why (override consensus, resolve disputes)."""

    label_class = forms.ChoiceField(choices=list(CLASSES), label="Class")
    note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4, "cols": 60}), label="Resolution / note", max_length=5000
    )


def run_service_per_object(
    request, objects: Iterable, call: Callable, *, done: str, admin_obj
) -> tuple[int, int]:
    """Call ``call(obj)`` for each object; report successes and each failure as admin messages.

    One object's error (already resolved, validation) never stops the others, and each call is
    its own transaction (the service's), so a failure rolls back only that object.
    """
    ok = failed = 0
    for obj in objects:
        try:
            call(obj)
            ok += 1
        except (ValidationError, PermissionDenied, ValueError) as exc:
            failed += 1
            text = "; ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
            admin_obj.message_user(request, f"{obj}: {text}", messages.ERROR)
    if ok:
        admin_obj.message_user(request, f"{done}: {ok}", messages.SUCCESS)
    return ok, failed


# --- List filters shared by the label, consensus and candidate change lists --------------------

class CandidateSubsetFilter(admin.SimpleListFilter):
    """Yes/no filter on whether the row's candidate is in a subset (subquery, no duplicate rows)."""

    #: Path from the listed model to the candidate id ("candidate_id", or "pk" for Candidate).
    candidate_field = "candidate_id"

    def lookups(self, request, model_admin):
        return (("yes", "Yes"), ("no", "No"))

    def candidate_ids(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(**{f"{self.candidate_field}__in": self.candidate_ids()})
        if self.value() == "no":
            return queryset.exclude(**{f"{self.candidate_field}__in": self.candidate_ids()})
        return queryset


def candidate_filter(base: type[CandidateSubsetFilter], field: str) -> type[CandidateSubsetFilter]:
    """The same filter for a model whose candidate id lives at ``field`` (e.g. ``"pk"``)."""
    return type(f"{base.__name__}On{field.title()}", (base,), {"candidate_field": field})


# --- Intermediate page: choose a class and write the resolution --------------------------------

def class_choice_step(model_admin, request, queryset, *, action: str, title: str, intro: str, apply: Callable):
    """Show (or process) the "pick a class and say why" page of a bulk action.

    First call (from the change list) renders the form; the form posts back to the same action
    with ``apply`` set, and then ``apply(label_class, note)`` runs. Returns ``None`` when done,
    so the admin goes back to the change list with its messages.
    """
    from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
    from django.template.response import TemplateResponse

    if "apply" in request.POST:
        form = ClassChoiceForm(request.POST)
        if form.is_valid():
            apply(form.cleaned_data["label_class"], form.cleaned_data["note"])
            return None
    else:
        form = ClassChoiceForm()
    context = {
        **model_admin.admin_site.each_context(request),
        "title": title,
        "intro": intro,
        "opts": model_admin.model._meta,
        "objects": list(queryset[:200]),
        "n_objects": queryset.count(),
        "selected_ids": list(queryset.values_list("pk", flat=True)),
        "form": form,
        "action": action,
        "action_checkbox_name": ACTION_CHECKBOX_NAME,
        "select_across": request.POST.get("select_across", "0"),
    }
    return TemplateResponse(request, "admin/vetting/class_choice.html", context)


def extend_admin(model, *, actions=(), list_filters=()) -> None:
    """Add actions and list filters to the registered admin of ``model``.

    A higher app uses this to put its tools on a lower app's admin (``learning`` adds "send back
    to the queue" to candidates and labels), since the lower app must not import the higher one.
    Call it from the higher app's ``admin.py``: apps' admin modules load in INSTALLED_APPS order.
    """
    model_admin = admin.site.get_model_admin(model)
    model_admin.actions = [*(model_admin.actions or ()), *actions]
    filters = list(model_admin.list_filter)
    anchor = filters.index("created_at") if "created_at" in filters else len(filters)
    model_admin.list_filter = (*filters[:anchor], *list_filters, *filters[anchor:])
