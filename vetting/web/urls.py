"""Site pages: the vetting queue, the candidate page, labels, disputes and the team view."""
from django.urls import path

from vetting.web.views import candidates, model_card, report, reviews

urlpatterns = [
    path("candidates/", candidates.candidate_queue, name="candidate-queue"),
    path("candidates/<int:pk>/", candidates.candidate_detail, name="candidate-detail"),
    path("candidates/<int:pk>/skip/", candidates.candidate_skip, name="candidate-skip"),
    path("candidates/<int:pk>/report.<str:fmt>", report.candidate_report, name="candidate-report"),
    path("reviews/candidates/<int:pk>/label/", reviews.label_create, name="label-create"),
    path("reviews/candidates/<int:pk>/disputes/", reviews.dispute_create, name="dispute-create"),
    path("reviews/disputes/", reviews.dispute_list, name="dispute-list"),
    path("reviews/disputes/<int:pk>/", reviews.dispute_detail, name="dispute-detail"),
    path("reviews/disputes/<int:pk>/comments/", reviews.dispute_comment, name="dispute-comment"),
    path("reviews/disputes/<int:pk>/resolve/", reviews.dispute_resolve, name="dispute-resolve"),
    path("reviews/candidates/<int:pk>/tie/", reviews.tie_resolve, name="tie-resolve"),
    path("reviews/team/", reviews.team_stats, name="team-stats"),
    path("models/<int:pk>/card/", model_card.model_card, name="classifier-version-card"),
    path("models/<int:pk>/card.<str:fmt>", model_card.model_card_file, name="classifier-version-card-file"),
    path("models/<int:pk>/reproduce/", model_card.model_reproduce, name="classifier-version-reproduce"),
]
