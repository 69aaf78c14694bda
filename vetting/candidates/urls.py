from django.urls import path

from vetting.candidates import views

urlpatterns = [
    path("", views.candidate_queue, name="candidate-queue"),
    path("<int:pk>/", views.candidate_detail, name="candidate-detail"),
    path("<int:pk>/skip/", views.candidate_skip, name="candidate-skip"),
]
