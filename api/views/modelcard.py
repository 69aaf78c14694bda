"""Model cards of classifier versions (JSON or Markdown) and the labeled-data release (zip)."""
from __future__ import annotations

import tempfile

from django.http import FileResponse, HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from api.permissions import IsCurator, IsVetter
from vetting.learning.models import ClassifierVersion
from vetting.learning.services import modelcard, release


class MarkdownRenderer(BaseRenderer):
    """``?format=md`` / ``Accept: text/markdown``: the card as Markdown text."""

    media_type = "text/markdown"
    format = "md"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        from classifier.modelcard import card_markdown

        if isinstance(data, dict) and "details" in data:
            return card_markdown(data).encode()
        return (str(data.get("detail", data)) if isinstance(data, dict) else str(data)).encode()


class ModelCardView(APIView):
    """The model card of one classifier version: training data, model, metrics with intervals,
    thresholds, limits, environment, reproduction (``?format=md`` for Markdown)."""

    permission_classes = [IsVetter]
    renderer_classes = [JSONRenderer, MarkdownRenderer]

    @extend_schema(summary="Model card of a classifier version (JSON; ?format=md for Markdown)",
                   parameters=[OpenApiParameter("format", str, enum=["json", "md"])],
                   responses={(200, "application/json"): OpenApiTypes.OBJECT,
                              (200, "text/markdown"): OpenApiResponse(OpenApiTypes.STR)})
    def get(self, request, pk: int):
        version = get_object_or_404(ClassifierVersion, pk=pk)
        return Response(modelcard.version_card(version))


class ModelCardMarkdownView(APIView):
    """``/model-card.md``: the card as a Markdown download."""

    permission_classes = [IsVetter]

    @extend_schema(summary="Model card of a classifier version as a Markdown file",
                   responses={(200, "text/markdown"): OpenApiResponse(OpenApiTypes.STR)})
    def get(self, request, pk: int):
        from classifier.modelcard import card_markdown

        version = get_object_or_404(ClassifierVersion, pk=pk)
        response = HttpResponse(card_markdown(modelcard.version_card(version)),
                                content_type="text/markdown; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="model-card-{version.name}.md"'
        return response


class ReleaseExportView(APIView):
    """Curators: the labeled-data release of a classifier version as one zip archive."""

    permission_classes = [IsCurator]

    @extend_schema(
        summary="Labeled-data release (zip: label snapshot, candidates, model card, environment, MANIFEST)",
        parameters=[OpenApiParameter("version", str, description="version id or name (default: active)")],
        responses={(200, "application/zip"): OpenApiResponse(OpenApiTypes.BINARY)},
    )
    def get(self, request):
        version = request.query_params.get("version") or None
        if version is not None and (len(version) > 64 or "\x00" in version):
            raise NotFound(f"no classifier version {version[:64]!r}")  # no name is that long or holds NUL
        out = tempfile.TemporaryFile()
        try:
            info = release.release_build(out=out, version=version)
        except release.ReleaseError as exc:  # no such version, or none with a stored label snapshot
            out.close()
            raise NotFound(str(exc)) from None
        out.seek(0)
        return FileResponse(out, as_attachment=True, filename=f"{info['top']}.zip", content_type="application/zip")
