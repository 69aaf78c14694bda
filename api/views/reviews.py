"""Labels and disputes: every write goes through ``vetting.reviews.services``."""
from __future__ import annotations

from django.core.exceptions import ValidationError
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

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
    LabelUpdateSerializer,
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
        data = LabelCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        label = services.label_create(vetter=request.user, **data.validated_data)
        return Response(LabelSerializer(label).data, status=status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        label = self.get_object()  # object permission: only your own
        if label.source != LabelSource.HUMAN:
            raise ValidationError({"source": "only vetter labels can be changed here"})
        if not label.is_current:
            raise ValidationError({"is_current": f"label #{label.pk} was superseded; change your current label"})
        partial = kwargs.get("partial", False)
        current = {"label_class": label.label_class, "confidence": label.confidence, "note": label.note,
                   "seconds_spent": label.seconds_spent}
        data = LabelUpdateSerializer(data={**current, **request.data} if partial else request.data)
        data.is_valid(raise_exception=True)
        new = services.label_create(candidate=label.candidate_id, vetter=request.user, **data.validated_data)
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

    def get_queryset(self):
        """Only the disputes the visibility rule lets the user see (the site's rule)."""
        qs = Dispute.objects.select_related("opened_by", "resolved_by").prefetch_related("comments__author")
        return review_selectors.visible_disputes(qs, user=self.request.user)

    def create(self, request, *args, **kwargs):
        data = DisputeCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        dispute = services.dispute_open(opened_by=request.user, **data.validated_data)
        return Response(DisputeSerializer(dispute).data, status=status.HTTP_201_CREATED)

    @extend_schema(summary="Comment on a dispute", request=DisputeCommentCreateSerializer,
                   responses={201: DisputeCommentSerializer})
    @action(detail=True, methods=["post"], filter_backends=[], pagination_class=None)
    def comments(self, request, pk=None):
        dispute = self.get_object()
        data = DisputeCommentCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        comment = services.dispute_comment(dispute=dispute, author=request.user, text=data.validated_data["text"])
        return Response(DisputeCommentSerializer(comment).data, status=status.HTTP_201_CREATED)

    @extend_schema(summary="Resolve a dispute (curators): the decision becomes the curated label",
                   request=DisputeResolveSerializer, responses={200: DisputeSerializer})
    @action(detail=True, methods=["post"], permission_classes=[IsCurator], filter_backends=[],
            pagination_class=None)
    def resolve(self, request, pk=None):
        dispute = self.get_object()
        data = DisputeResolveSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        dispute = services.dispute_resolve(dispute=dispute, curator=request.user, **data.validated_data)
        return Response(DisputeSerializer(self.get_queryset().get(pk=dispute.pk)).data)
