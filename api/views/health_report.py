"""Model health over time (``/api/classifier-versions/<id>/health/``) and the one-page vetting
report of a candidate (``/api/candidates/<id>/report.pdf|png``).

Thin views: the health numbers come from :mod:`vetting.learning.health` (the selectors behind
``/metrics`` and the model page), the report from :mod:`vetting.core.reports` (its HTML built
by :mod:`vetting.web.views.report`, registered at start-up since the API never imports the
site: the same context, figures and visibility rule as the candidate page).
"""
from __future__ import annotations

import math

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import APIException
from rest_framework.response import Response
from rest_framework.views import APIView

from api.permissions import IsVetter
from vetting.learning import health
from vetting.learning.models import ClassifierVersion


class HealthQuery(serializers.Serializer):
    """Query parameters of the model-health endpoint (bounds stated in the schema, too)."""

    bucket_days = serializers.FloatField(required=False, default=7.0, min_value=0.01, max_value=365,
                                         help_text="bucket length in days (default 7)")

    def validate_bucket_days(self, value: float) -> float:
        if not math.isfinite(value):
            raise serializers.ValidationError("a finite number of days")
        return value


class ModelHealthView(APIView):
    permission_classes = [IsVetter]

    @extend_schema(
        summary="Agreement with new consensus labels and the near-0.5 share, per time bucket since promotion",
        parameters=[HealthQuery], responses={200: OpenApiTypes.OBJECT})
    def get(self, request, pk: int):
        version = get_object_or_404(ClassifierVersion.objects.only("pk", "name", "promoted_at", "is_active"), pk=pk)
        query = HealthQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        bucket_days = query.validated_data["bucket_days"]
        return Response({
            "version": version.name, "is_active": version.is_active,
            "promoted_at": version.promoted_at.isoformat() if version.promoted_at else None,
            "near_half_band": list(health.NEAR_HALF), "bucket_days": bucket_days,
            "live": {**health.live_agreement(version), "near_half": health.live_near_half(version)},
            "buckets": [b.as_dict() for b in health.health_over_time(version, bucket_days=bucket_days)],
        })


class CandidateReportView(APIView):
    permission_classes = [IsVetter]

    @extend_schema(
        summary="One-page vetting report of a candidate (PDF or PNG)",
        parameters=[OpenApiParameter("fmt", str, OpenApiParameter.PATH, enum=["pdf", "png"],
                                     description="file format")],
        responses={(200, "application/pdf"): OpenApiTypes.BINARY, (200, "image/png"): OpenApiTypes.BINARY,
                   503: OpenApiResponse(description="No browser engine to render reports on this server")})
    def get(self, request, pk: int, fmt: str):
        from vetting.core import reports

        try:
            return reports.report_download(request, pk, fmt)
        except reports.ReportProblem as problem:  # in the API's one error shape
            error = APIException(problem.body["detail"], problem.body["code"])
            error.status_code = problem.status
            raise error from None
