"""Imports: upload a catalog CSV, a FITS light curve or a views bundle; poll the ImportJob."""
from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from api import uploads
from api.exceptions import PayloadTooLarge, UnsupportedFile
from api.fields import validated
from api.pagination import KeysetPagination
from api.permissions import IsCurator
from api.serializers import ImportJobCreateSerializer, ImportJobSerializer
from vetting.candidates import services as candidate_services
from vetting.candidates import uploads as candidate_uploads
from vetting.candidates.filters import ImportJobFilter
from vetting.candidates.models import ImportJob


@extend_schema_view(
    list=extend_schema(summary="Import jobs (newest first)"),
    retrieve=extend_schema(summary="One import job: poll state, progress, counts and row errors"),
    create=extend_schema(
        summary="Upload a file to import (curators); answers 202 with the queued ImportJob",
        description=(
            "multipart/form-data. `kind=catalog`: a NASA Exoplanet Archive CSV in `file`. `kind=fits`: a "
            "light-curve FITS in `file`. `kind=views`: the bundle's `candidates.csv` in `file` and `views.npz` "
            "in `views_file`, or one .zip in `file`. `options`: a JSON object (`table`, `with_catalog_labels`, "
            "`mission`). Oversize uploads get 413 (VETTING_MAX_UPLOAD_MB); files that are not what `kind` says "
            "get 415. Row-level problems are listed in the job's `errors` when it finishes."
        ),
        request={"multipart/form-data": ImportJobCreateSerializer},
        responses={202: ImportJobSerializer},
    ),
)
class ImportJobViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                       viewsets.GenericViewSet):
    serializer_class = ImportJobSerializer
    permission_classes = [IsCurator]
    pagination_class = KeysetPagination
    filterset_class = ImportJobFilter
    parser_classes = [MultiPartParser, FormParser]
    lookup_value_regex = "[0-9]+"

    def get_queryset(self):
        return ImportJob.objects.select_related("created_by")

    # The request's size (declared or, when chunked, read) was checked before authentication by
    # api.middleware.ApiGuardMiddleware: a session's CSRF check reads request.POST, which would
    # parse (and spool to disk) the whole multipart body first.

    def create(self, request, *args, **kwargs):
        data = validated(ImportJobCreateSerializer(data=request.data))
        kind, main = data["kind"], data["file"]
        views_file = data.get("views_file")
        for field, upload in (("file", main), ("views_file", views_file)):
            if upload is not None:
                uploads.check_file_size(upload, field)
        upload = self._checked_upload(kind, main, views_file)
        try:  # the service checks the file again (name, size, content): the one check of every path
            job = candidate_services.import_job_create(
                kind=kind, upload=upload, options=data["options"], created_by=request.user)
        except candidate_uploads.UploadTooLarge as exc:  # e.g. a packed views bundle over the limit
            raise PayloadTooLarge(exc.text) from None
        return Response(ImportJobSerializer(job).data, status=status.HTTP_202_ACCEPTED)

    @staticmethod
    def _checked_upload(kind: str, main, views_file):
        """Check the file(s)' content for ``kind`` under the API's field names (``file``,
        ``views_file``); a two-file views bundle is packed into one .zip. Files that do not fit
        ``kind`` are a 415 naming the field."""
        try:
            return ImportJobViewSet._fitting_upload(kind, main, views_file)
        except DjangoValidationError as exc:
            raise UnsupportedFile(exc.message_dict if hasattr(exc, "error_dict") else {"file": exc.messages}) from None

    @staticmethod
    def _fitting_upload(kind: str, main, views_file):
        if kind == ImportJob.Kind.VIEWS and views_file is None and not main.name.lower().endswith(".zip"):
            raise DjangoValidationError({"views_file": "a views bundle needs candidates.csv in file and views.npz in "
                                                       "views_file (or one .zip in file)."})
        if kind != ImportJob.Kind.VIEWS and views_file is not None:
            raise DjangoValidationError({"views_file": "only a views bundle takes a second file."})
        if kind == ImportJob.Kind.VIEWS and views_file is not None:
            candidate_uploads.check_text_table(main, field="file")
            candidate_uploads.check_npz(views_file, field="views_file")
            return candidate_uploads.views_bundle(main, views_file)
        candidate_uploads.CONTENT_CHECKS[kind](main, field="file")
        return main
