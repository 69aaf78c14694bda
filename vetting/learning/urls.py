"""Site pages of the learning app (mounted under /learning/)."""
from django.urls import path

from vetting.learning import views

urlpatterns = [
    path("", views.learning_curves, name="learning-curves"),
    path("runs/", views.training_run_create, name="trainingrun-create"),
    path("queue-mix/", views.queue_mix_update, name="queuemix-update"),
]
