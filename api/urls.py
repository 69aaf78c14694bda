"""REST API routes and the OpenAPI schema (/api/schema/) with Swagger UI (/api/docs/).

URL names follow ``<entity>-<action>`` (``candidate-list``, ``training-run-detail``) in the ``api``
namespace: ``reverse("api:candidate-detail", ...)``. The site's pages use the same entity names
(``candidate-detail``, ``dispute-list``) without a namespace.
"""
from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.permissions import AllowAny
from rest_framework.routers import DefaultRouter

from api.exceptions import not_found_view
from api.views.candidates import CandidateViewSet, QueueView, TargetViewSet
from api.views.exports import LabelExportView, PredictionExportView
from api.views.health_report import CandidateReportView, ModelHealthView
from api.views.imports import ImportJobViewSet
from api.views.learning import ClassifierVersionViewSet, PredictionListView, TrainingRunViewSet
from api.views.me import MeView
from api.views.modelcard import ModelCardMarkdownView, ModelCardView, ReleaseExportView
from api.views.reviews import DisputeViewSet, LabelsRequiredView, LabelViewSet, ReliabilityView

app_name = "api"

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("targets", TargetViewSet, basename="target")
router.register("candidates", CandidateViewSet, basename="candidate")
router.register("labels", LabelViewSet, basename="label")
router.register("disputes", DisputeViewSet, basename="dispute")
router.register("classifier-versions", ClassifierVersionViewSet, basename="classifier-version")
router.register("training-runs", TrainingRunViewSet, basename="training-run")
router.register("imports", ImportJobViewSet, basename="import-job")

urlpatterns = [
    # The schema and its docs page are public: they describe the API, they hold no data.
    path("schema/", SpectacularAPIView.as_view(permission_classes=[AllowAny]), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:api-schema", permission_classes=[AllowAny]),
         name="api-docs"),
    path("me/", MeView.as_view(), name="me-detail"),
    path("queue/", QueueView.as_view(), name="queue-list"),
    path("team/reliability/", ReliabilityView.as_view(), name="reliability-detail"),
    path("team/labels-required/", LabelsRequiredView.as_view(), name="labels-required"),
    path("predictions/", PredictionListView.as_view(), name="prediction-list"),
    path("exports/labels.csv", LabelExportView.as_view(export_format="csv"), name="label-export-csv"),
    path("exports/labels.json", LabelExportView.as_view(export_format="json"), name="label-export-json"),
    path("exports/predictions.csv", PredictionExportView.as_view(export_format="csv"), name="prediction-export-csv"),
    path("exports/predictions.json", PredictionExportView.as_view(export_format="json"),
         name="prediction-export-json"),
    path("classifier-versions/<int:pk>/model-card/", ModelCardView.as_view(), name="model-card-detail"),
    path("classifier-versions/<int:pk>/model-card.md", ModelCardMarkdownView.as_view(), name="model-card-markdown"),
    path("exports/release.zip", ReleaseExportView.as_view(), name="release-export"),
    path("classifier-versions/<int:pk>/health/", ModelHealthView.as_view(), name="classifier-version-health"),
    path("candidates/<int:pk>/report.<str:fmt>", CandidateReportView.as_view(), name="candidate-report"),
    *router.urls,
    re_path(r"^[\s\S]*$", not_found_view, name="api-not-found"),  # any path, newlines included
]
