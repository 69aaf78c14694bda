from django.urls import path

from vetting.reviews import views

urlpatterns = [
    path("candidates/<int:pk>/label/", views.label_create, name="label-create"),
    path("candidates/<int:pk>/disputes/", views.dispute_create, name="dispute-create"),
    path("disputes/", views.dispute_list, name="dispute-list"),
    path("disputes/<int:pk>/", views.dispute_detail, name="dispute-detail"),
    path("disputes/<int:pk>/comments/", views.dispute_comment, name="dispute-comment"),
    path("disputes/<int:pk>/resolve/", views.dispute_resolve, name="dispute-resolve"),
    path("team/", views.team_stats, name="team-stats"),
]
