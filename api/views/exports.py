"""Streaming downloads of labels and predictions as CSV or JSON."""
from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.views import APIView

from api.exports import LABEL_COLUMNS, PREDICTION_COLUMNS, label_rows, prediction_rows, streaming_export
from api.filters import check_no_empty_typed_values
from api.permissions import IsVetter
from api.views.learning import PredictionListView
from vetting.core.filters import MAX_ID
from vetting.core.roles import is_curator
from vetting.learning.filters import PredictionFilter
from vetting.reviews.filters import LabelFilter
from vetting.reviews.models import Label

_FORMATS = {"csv": "text/csv", "json": "application/json"}
ID_SCHEMA = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
NUMBER_SCHEMA = {"type": "number", "maximum": 1e50}  # django-filter's NumberFilter bound


def _responses(what: str) -> dict:
    return {
        (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description=f"{what}, one row per line"),
        (200, "application/json"): OpenApiResponse(OpenApiTypes.ANY, description=f"{what}, an array of objects"),
    }


class LabelExportView(APIView):
    """All labels (curators) or your own (vetters), streamed; same filters as /api/labels/."""

    permission_classes = [IsVetter]
    export_format = "csv"

    @extend_schema(
        summary="Export labels (current only unless is_current=false is given)",
        parameters=[
            OpenApiParameter("candidate", ID_SCHEMA), OpenApiParameter("vetter", str),
            OpenApiParameter("label_class", str, enum=["PC", "EB", "BEB", "V", "IS", "J"]),
            OpenApiParameter("source", str, enum=["human", "catalog", "curator"]),
            OpenApiParameter("is_current", bool),
        ],
        responses=_responses("labels"),
    )
    def get(self, request):
        qs = Label.objects.all()
        if not is_curator(request.user):
            qs = qs.filter(vetter=request.user)
        check_no_empty_typed_values(LabelFilter, request.query_params)
        params = request.query_params.copy()
        params.setdefault("is_current", "true")
        filterset = LabelFilter(params, queryset=qs, request=request)
        if not filterset.is_valid():
            raise ValidationError(filterset.errors)
        return streaming_export(LABEL_COLUMNS, label_rows(filterset.qs), fmt=self.export_format, filename="labels")


class PredictionExportView(PredictionListView):
    """Predictions of the active (or named) classifier version, streamed."""

    export_format = "csv"
    pagination_class = None

    @extend_schema(
        summary="Export predictions of the active classifier version, or of classifier_version",
        parameters=[OpenApiParameter("classifier_version", str, description="version id or name (default: active)"),
                    OpenApiParameter("predicted_class", str, enum=["PC", "EB", "BEB", "V", "IS", "J"]),
                    OpenApiParameter("candidate", ID_SCHEMA),
                    *(OpenApiParameter(name, NUMBER_SCHEMA) for name in ("p_planet_min", "p_planet_max",
                                                                          "uncertainty_min"))],
        responses=_responses("predictions"),
        filters=False,
    )
    def get(self, request, *args, **kwargs):
        check_no_empty_typed_values(PredictionFilter, request.query_params)
        qs = PredictionFilter(request.query_params, queryset=self.get_queryset(), request=request)
        if not qs.is_valid():
            raise ValidationError(qs.errors)
        return streaming_export(PREDICTION_COLUMNS, prediction_rows(qs.qs), fmt=self.export_format,
                                filename="predictions")
