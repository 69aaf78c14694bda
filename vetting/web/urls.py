"""Site pages: the vetting queue, the candidate page, labels, disputes and the team view."""
from django.urls import path

from vetting.web.views import candidates, reviews

urlpatterns = [
    path("candidates/", candidates.candidate_queue, name="candidate-queue"),
    path("candidates/<int:pk>/", candidates.candidate_detail, name="candidate-detail"),
    path("candidates/<int:pk>/skip/", candidates.candidate_skip, name="candidate-skip"),
    path("reviews/candidates/<int:pk>/label/", reviews.label_create, name="label-create"),
    path("reviews/candidates/<int:pk>/disputes/", reviews.dispute_create, name="dispute-create"),
    path("reviews/disputes/", reviews.dispute_list, name="dispute-list"),
    path("reviews/disputes/<int:pk>/", reviews.dispute_detail, name="dispute-detail"),
    path("reviews/disputes/<int:pk>/comments/", reviews.dispute_comment, name="dispute-comment"),
    path("reviews/disputes/<int:pk>/resolve/", reviews.dispute_resolve, name="dispute-resolve"),
    path("reviews/candidates/<int:pk>/tie/", reviews.tie_resolve, name="tie-resolve"),
    path("reviews/team/", reviews.team_stats, name="team-stats"),
]
