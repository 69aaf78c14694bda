"""Root URLconf: site pages, admin, REST API, health check."""
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from vetting.web.views import metrics as metrics_views
from vetting.web.views import shell as web_views

urlpatterns = [
    path("", web_views.home, name="home"),
    path("accounts/login/", web_views.ThrottledLoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("health/", web_views.health, name="health"),
    path("metrics", metrics_views.metrics_view, name="metrics"),  # Prometheus: staff or bearer token
    path("jobs/import/<int:pk>/progress.json", web_views.import_job_progress, name="job-import-progress"),
    path("jobs/training/<int:pk>/progress.json", web_views.training_run_progress, name="job-training-progress"),
    path("", include("vetting.web.urls")),
    path("learning/", include("vetting.learning.urls")),
    path("admin/", admin.site.urls),
    # The REST API in its own namespace ("api:candidate-detail"): its router names share the
    # site's entity names (candidate-detail, dispute-list, ...), so the order here does not matter.
    path("api/", include("api.urls", namespace="api")),
]
