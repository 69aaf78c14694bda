"""Classifier versions (with ETags), predictions by version, training runs (202 + polling)."""
from __future__ import annotations

from django.db.models import Q
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.reverse import reverse

from api.conditional import make_etag, not_modified
from api.filters import FilterBackend, StrictOrderingFilter
from api.pagination import KeysetPagination
from api.params import MAX_ID, parse_int
from api.permissions import IsCurator, IsVetter
from api.serializers import ClassifierVersionSerializer, PredictionSerializer, TrainingRunSerializer
from vetting.learning import selectors as learning_selectors
from vetting.learning.filters import PredictionFilter, TrainingRunFilter
from vetting.learning.models import ClassifierVersion, Prediction, TrainingRun


def _versions_etag() -> str:
    """Versions change rarely; the whole (small) table's state columns make a cheap validator."""
    rows = ClassifierVersion.objects.order_by("id").values_list("id", "is_active", "status", "promoted_at",
                                                                 "decision_reason")
    return make_etag(*rows)


@extend_schema_view(
    list=extend_schema(summary="Classifier versions with their metrics (newest first); supports If-None-Match"),
    retrieve=extend_schema(summary="One classifier version; supports If-None-Match"),
)
class ClassifierVersionViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = ClassifierVersion.objects.order_by("-created_at", "-id")
    serializer_class = ClassifierVersionSerializer
    permission_classes = [IsVetter]
    pagination_class = None  # tens of rows, not millions
    filter_backends = [StrictOrderingFilter]
    ordering_fields = ["created_at", "id"]
    ordering = ["-created_at", "-id"]
    lookup_value_regex = "[0-9]+"

    def list(self, request, *args, **kwargs):
        StrictOrderingFilter().get_ordering(request, None, self)  # a bad ?ordering= is a 400, even when cached
        etag = _versions_etag()
        response = not_modified(request, etag) or super().list(request, *args, **kwargs)
        response["ETag"] = etag
        return response

    def retrieve(self, request, *args, **kwargs):
        etag = _versions_etag()
        response = not_modified(request, etag) or super().retrieve(request, *args, **kwargs)
        response["ETag"] = etag
        return response

    @extend_schema(summary="The active classifier version (404 before the first promotion)",
                   responses=ClassifierVersionSerializer)
    @action(detail=False, methods=["get"])
    def active(self, request):
        version = learning_selectors.active_version()
        if version is None:
            raise NotFound("No classifier version is active yet; train one first.")
        return Response(ClassifierVersionSerializer(version).data)


@extend_schema(
    summary="Predictions of the active classifier version, or of the one named by classifier_version",
    parameters=[OpenApiParameter("classifier_version", str, description="version id or name (default: active)")],
)
class PredictionListView(ListAPIView):
    serializer_class = PredictionSerializer
    permission_classes = [IsVetter]
    pagination_class = KeysetPagination
    filter_backends = [FilterBackend, StrictOrderingFilter]
    filterset_class = PredictionFilter
    ordering_fields = ["id", "p_planet", "uncertainty"]
    ordering = ["-id"]

    queryset = Prediction.objects.none()  # for the schema generator

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        return learning_selectors.predictions_of_version(self._version_id())

    def _version_id(self) -> int | None:
        wanted = self.request.query_params.get("classifier_version", "").strip()
        if not wanted:
            version = learning_selectors.active_version()
            return version.pk if version else None
        version_pk = parse_int(wanted, minimum=1, maximum=MAX_ID)
        match = Q(name=wanted) | (Q(pk=version_pk) if version_pk is not None else Q(pk__in=[]))
        version_id = ClassifierVersion.objects.filter(match).values_list("pk", flat=True).first()
        if version_id is None:
            raise NotFound(f"No classifier version {wanted!r}.")
        return version_id


@extend_schema_view(
    list=extend_schema(summary="Training runs (newest first)"),
    retrieve=extend_schema(summary="One training run: poll state and progress"),
    create=extend_schema(
        summary="Request a retrain (curators); answers 202 with the queued run",
        description="Requests coalesce: while a run is queued, every request returns that run.",
        request=None, responses={202: TrainingRunSerializer},
    ),
)
class TrainingRunViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                         viewsets.GenericViewSet):
    serializer_class = TrainingRunSerializer
    pagination_class = KeysetPagination
    filterset_class = TrainingRunFilter
    lookup_value_regex = "[0-9]+"

    def get_queryset(self):
        return TrainingRun.objects.select_related("requested_by", "classifier_version")

    def get_permissions(self):
        return [IsCurator()] if self.action == "create" else [IsVetter()]

    def create(self, request, *args, **kwargs):
        from vetting.learning.services.runs import training_run_request

        run = training_run_request(trigger=TrainingRun.Trigger.API, requested_by=request.user)
        run = self.get_queryset().get(pk=run.pk)
        response = Response(TrainingRunSerializer(run).data, status=status.HTTP_202_ACCEPTED)
        response["Location"] = reverse("api:training-run-detail", args=[run.pk], request=request)
        return response
