"""Labels and disputes: every write goes through ``vetting.reviews.services``."""
from __future__ import annotations

from collections.abc import Mapping

from django.conf import settings
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from api.exceptions import Conflict
from api.fields import validated
from api.pagination import KeysetPagination
from api.permissions import IsCurator, IsLabelOwnerOrCuratorReadOnly, IsVetter
from api.serializers import (
    DisputeCommentCreateSerializer,
    DisputeCommentSerializer,
    DisputeCreateSerializer,
    DisputeResolveSerializer,
    DisputeSerializer,
    LabelCreateSerializer,
    LabelSerializer,
    LabelsRequiredResultSerializer,
    LabelsRequiredSerializer,
    LabelUpdateSerializer,
    ReliabilitySerializer,
)
from vetting.core.roles import is_curator
from vetting.reviews import selectors as review_selectors
from vetting.reviews import services
from vetting.reviews.filters import DisputeFilter, LabelFilter
from vetting.reviews.models import Dispute, Label, LabelSource


@extend_schema_view(
    list=extend_schema(summary="List labels (curators: everyone's; vetters: their own)"),
    retrieve=extend_schema(summary="One label (your own, or any for curators)"),
    create=extend_schema(summary="Label a candidate", request=LabelCreateSerializer,
                         responses={201: LabelSerializer}),
    update=extend_schema(summary="Change your label (the old one stays as history; returns the new label)",
                         request=LabelUpdateSerializer, responses={200: LabelSerializer}),
    partial_update=extend_schema(summary="Change part of your label (returns the new label)",
                                 request=LabelUpdateSerializer, responses={200: LabelSerializer}),
)
class LabelViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                   mixins.UpdateModelMixin, viewsets.GenericViewSet):
    serializer_class = LabelSerializer
    permission_classes = [IsVetter, IsLabelOwnerOrCuratorReadOnly]
    pagination_class = KeysetPagination
    filterset_class = LabelFilter
    lookup_value_regex = "[0-9]+"

    queryset = Label.objects.none()  # for the schema generator

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        qs = Label.objects.select_related("vetter", "candidate").only(
            *(f.name for f in Label._meta.concrete_fields), "vetter__username", "candidate__catalog_id")
        if self.action == "list" and not is_curator(self.request.user):
            qs = qs.filter(vetter=self.request.user)
        return qs

    def create(self, request, *args, **kwargs):
        label = services.label_create(vetter=request.user, **validated(LabelCreateSerializer(data=request.data)))
        return Response(LabelSerializer(label).data, status=status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        label = self.get_object()  # object permission: only your own
        if label.source != LabelSource.HUMAN:
            raise Conflict({"source": ["only vetter labels can be changed here"]})
        if not label.is_current:
            raise Conflict({"is_current": [f"label #{label.pk} was superseded; change your current label"]})
        partial = kwargs.get("partial", False)
        current = {"label_class": label.label_class, "confidence": label.confidence, "note": label.note,
                   "seconds_spent": label.seconds_spent}
        if partial and not isinstance(request.data, Mapping):
            raise ParseError("The body must be a JSON object.")
        data = validated(LabelUpdateSerializer(data={**current, **request.data} if partial else request.data))
        new = services.label_create(candidate=label.candidate_id, vetter=request.user, **data)
        return Response(LabelSerializer(new).data)


@extend_schema_view(
    list=extend_schema(summary="List disputes"),
    retrieve=extend_schema(summary="One dispute with its comments"),
    create=extend_schema(summary="Open a dispute of a label or of the model's prediction",
                         request=DisputeCreateSerializer, responses={201: DisputeSerializer}),
)
class DisputeViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                     viewsets.GenericViewSet):
    serializer_class = DisputeSerializer
    permission_classes = [IsVetter]
    pagination_class = KeysetPagination
    filterset_class = DisputeFilter
    lookup_value_regex = "[0-9]+"

    def get_queryset(self):
        """Only the disputes the visibility rule lets the user see (the site's rule)."""
        qs = Dispute.objects.select_related("opened_by", "resolved_by").prefetch_related("comments__author")
        return review_selectors.visible_disputes(qs, user=self.request.user)

    def create(self, request, *args, **kwargs):
        data = validated(DisputeCreateSerializer(data=request.data, context={"request": request}))
        dispute = services.dispute_open(opened_by=request.user, **data)
        return Response(DisputeSerializer(dispute).data, status=status.HTTP_201_CREATED)

    @extend_schema(summary="Comment on a dispute", request=DisputeCommentCreateSerializer,
                   responses={201: DisputeCommentSerializer})
    @action(detail=True, methods=["post"], filter_backends=[], pagination_class=None)
    def comments(self, request, pk=None):
        dispute = self.get_object()
        data = validated(DisputeCommentCreateSerializer(data=request.data))
        comment = services.dispute_comment(dispute=dispute, author=request.user, text=data["text"])
        return Response(DisputeCommentSerializer(comment).data, status=status.HTTP_201_CREATED)

    @extend_schema(summary="Resolve a dispute (curators): the decision becomes the curated label",
                   request=DisputeResolveSerializer, responses={200: DisputeSerializer})
    @action(detail=True, methods=["post"], permission_classes=[IsCurator], filter_backends=[],
            pagination_class=None)
    def resolve(self, request, pk=None):
        dispute = self.get_object()
        data = validated(DisputeResolveSerializer(data=request.data))
        if dispute.status == Dispute.Status.RESOLVED:  # the service checks again under its lock
            raise Conflict({"status": [f"dispute #{dispute.pk} is already resolved"]})
        dispute = services.dispute_resolve(dispute=dispute, curator=request.user, **data)
        return Response(DisputeSerializer(self.get_queryset().get(pk=dispute.pk)).data)


#: Most candidates one filter may touch (larger: split the filter).
LABELS_REQUIRED_MAX = 10000


class LabelsRequiredView(APIView):
    """Curators raise (or reset) how many independent labels candidates need."""

    permission_classes = [IsCurator]

    @extend_schema(
        summary="Set the minimum number of independent labels of candidates (by ids or by a candidate filter)",
        request=LabelsRequiredSerializer, responses=LabelsRequiredResultSerializer,
    )
    def post(self, request):
        from vetting.candidates.models import Candidate
        from vetting.learning.filters import CandidateFilter
        from vetting.learning.selectors import active_version

        data = validated(LabelsRequiredSerializer(data=request.data))
        if "filter" in data:
            version = active_version()  # the model filters (p_planet, model class) read its predictions
            candidates = Candidate.objects.with_active_prediction(version.pk if version else None)
            filterset = CandidateFilter(data["filter"], queryset=candidates, user=request.user)
            if not filterset.is_valid():
                raise ValidationError({"filter": filterset.errors})
            ids = list(filterset.qs.order_by().values_list("pk", flat=True)[:LABELS_REQUIRED_MAX + 1])
            if len(ids) > LABELS_REQUIRED_MAX:
                raise ValidationError({"filter": [f"matches more than {LABELS_REQUIRED_MAX} candidates; narrow it"]})
        else:
            ids = data["candidate_ids"]
        n = services.labels_required_set(candidate_ids=ids, curator=request.user,
                                         labels_required=data["labels_required"])
        return Response(LabelsRequiredResultSerializer({"updated": n,
                                                        "labels_required": data["labels_required"]}).data)


class ReliabilityView(APIView):
    """Each vetter's estimated reliability (Dawid-Skene confusion matrix), as on the team page."""

    permission_classes = [IsVetter]

    @extend_schema(
        summary="Vetter reliability from the newest Dawid-Skene fit (curators: every vetter; vetters: themselves)",
        responses=ReliabilitySerializer,
    )
    def get(self, request):
        fit = review_selectors.latest_reliability_fit()
        rows = review_selectors.reliability_for(user=request.user, fit=fit)
        body = {
            "fit_id": fit.pk if fit else None, "fitted_at": fit.created_at if fit else None,
            "classes": list(fit.classes) if fit else [], "priors": list(fit.priors) if fit else [],
            "n_labels": fit.n_labels if fit else 0, "n_fixed": fit.n_fixed if fit else 0,
            "rule": settings.VETTING_CONSENSUS.get("rule", "weighted_majority"),
            "labels_per_candidate": settings.VETTING_LABELS_PER_CANDIDATE,
            "blind_mode": settings.VETTING_BLIND_MODE,
            "vetters": rows,
        }
        known = review_selectors.known_answer_report(user=request.user)
        body["known_answers"] = {**known, "share": settings.VETTING_KNOWN_ANSWER_SHARE,
                                 "snr_recall": [{"snr": name, "planet_recall": p} for name, p in known["snr_recall"]]}
        return Response(ReliabilitySerializer(body).data)
