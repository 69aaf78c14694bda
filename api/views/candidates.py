"""Targets, candidates, a candidate's light-curve data and predictions, the vetting queue."""
from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.generics import get_object_or_404
from rest_framework.response import Response
from rest_framework.views import APIView

from api.conditional import not_modified
from api.filters import FilterBackend, StrictOrderingFilter
from api.lightcurve_data import etag_for, lightcurve_payload, timeseries_for
from api.pagination import KeysetPagination
from api.permissions import IsVetter
from api.serializers import (
    CandidateDetailSerializer,
    CandidateSerializer,
    LightCurveDataSerializer,
    LightCurveQuerySerializer,
    PredictionSerializer,
    QueueItemSerializer,
    QueueQuerySerializer,
    TargetSerializer,
)
from vetting.candidates.filters import TargetFilter
from vetting.candidates.models import Candidate, LightCurve, Target
from vetting.learning import queue_selectors
from vetting.learning import selectors as learning_selectors
from vetting.learning.filters import ORDERING_FIELDS, CandidateFilter, order_terms
from vetting.learning.models import Prediction
from vetting.reviews import selectors as review_selectors

#: Orderings on columns that may be NULL (no prediction, not queued, no SNR or period): such
#: rows are left out, because keyset pagination needs a value to continue from.
_NULLABLE_ORDERINGS = {"priority", "p_planet", "uncertainty", "snr", "period_days"}


class CandidateOrdering(StrictOrderingFilter):
    """``?ordering=`` with the public names of :data:`vetting.learning.filters.ORDERING_FIELDS`
    (``priority`` sorts on the ``queue_priority`` annotation); unknown names are a 400. Ties are
    broken as on the queue page (:func:`vetting.learning.filters.order_by`, ending with the id)."""

    def get_ordering(self, request, queryset, view):
        terms = super().get_ordering(request, queryset, view)
        return order_terms(terms[0]) if len(terms) == 1 else terms


@extend_schema_view(
    list=extend_schema(summary="List targets (stars)"),
    retrieve=extend_schema(summary="One target"),
)
class TargetViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = Target.objects.all()
    serializer_class = TargetSerializer
    permission_classes = [IsVetter]
    pagination_class = KeysetPagination
    filterset_class = TargetFilter
    lookup_value_regex = "[0-9]+"


@extend_schema_view(
    list=extend_schema(
        summary="List candidates",
        description=(
            "The queue page's filters under the same names: mission, catalog id, catalog disposition, the "
            "active model's class and p_planet range, labeled (has a team consensus), labeled_by_me, disputed. "
            "`ordering`: `-id` (default, newest first), `-priority` (queue order), `-p_planet`/`p_planet`, "
            "`-uncertainty`, `-snr`, `period_days`, `-created_at`. Ordering by priority, p_planet, uncertainty, "
            "snr or period_days lists only candidates that have that value. Cursor pagination: follow `next`."
        ),
    ),
    retrieve=extend_schema(summary="One candidate with metrics, consensus and light curves"),
)
class CandidateViewSet(viewsets.ReadOnlyModelViewSet):
    permission_classes = [IsVetter]
    pagination_class = KeysetPagination
    filter_backends = [FilterBackend, CandidateOrdering]
    filterset_class = CandidateFilter
    ordering_fields = list(ORDERING_FIELDS)
    ordering = ["-id"]
    lookup_value_regex = "[0-9]+"

    queryset = Candidate.objects.none()  # for the schema generator; requests use get_queryset

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        version = learning_selectors.active_version()
        qs = Candidate.objects.with_target().with_active_prediction(version.pk if version else None).with_queue()
        # Whether the user labeled each row: the blind rule's input (no query per row).
        qs = qs.annotate(is_mine=review_selectors.labeled_by(self.request.user))
        if self.action == "retrieve":
            return qs.prefetch_related("lightcurves")
        qs = qs.light()
        ordering = self.request.query_params.get("ordering", "").lstrip("-")
        if ordering in _NULLABLE_ORDERINGS:
            qs = qs.filter(**{f"{ORDERING_FIELDS[ordering]}__isnull": False})
        return qs

    def get_serializer_class(self):
        return CandidateDetailSerializer if self.action == "retrieve" else CandidateSerializer

    @extend_schema(
        summary="Light-curve data: raw time series (bounded), folded and binned, Astronet views",
        parameters=[LightCurveQuerySerializer],
        responses={200: LightCurveDataSerializer, 304: None},
    )
    @action(detail=True, methods=["get"], filter_backends=[], pagination_class=None)
    def lightcurve(self, request, pk=None):
        candidate = get_object_or_404(Candidate.objects.with_target(), pk=pk)
        query = LightCurveQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        curves = timeseries_for(candidate, params.get("lightcurve"))
        if params.get("lightcurve") is not None and not curves:
            get_object_or_404(LightCurve.objects.none())  # unknown or foreign light curve id -> 404
        etag = etag_for(candidate, curves, params)
        cached = not_modified(request, etag)
        if cached is not None:
            return cached
        payload = lightcurve_payload(candidate, curves, max_points=params["max_points"], bins=params["bins"])
        response = Response(LightCurveDataSerializer(payload).data)
        response["ETag"] = etag
        return response

    @extend_schema(
        summary="This candidate's predictions by every classifier version (newest version first)",
        responses=PredictionSerializer(many=True),
    )
    @action(detail=True, methods=["get"], filter_backends=[], pagination_class=None)
    def predictions(self, request, pk=None):
        candidate = get_object_or_404(Candidate.objects.only("pk"), pk=pk)
        if review_selectors.model_hidden(  # the blind rule: nothing of the model before your label
                user=request.user, candidate_id=candidate.pk,
                has_labeled=lambda: review_selectors.has_labeled(user=request.user, candidate_id=candidate.pk)):
            return Response([])
        rows = (Prediction.objects.filter(candidate=candidate).select_related("candidate", "classifier_version")
                .order_by("-classifier_version__created_at"))
        return Response(PredictionSerializer(rows, many=True).data)


class QueueView(APIView):
    """The next candidates for you to vet, chosen by the active-learning strategy."""

    permission_classes = [IsVetter]

    @extend_schema(
        summary="Next N candidates for me",
        description="Best first; never includes candidates you already labeled. Each item carries the "
                    "strategy that chose it (uncertainty, committee, random, ... or a fallback).",
        parameters=[QueueQuerySerializer],
        responses=QueueItemSerializer(many=True),
    )
    def get(self, request):
        query = QueueQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        candidates = queue_selectors.queue_next(user=request.user, limit=query.validated_data["limit"])
        return Response(QueueItemSerializer(candidates, many=True, context={"request": request}).data)
