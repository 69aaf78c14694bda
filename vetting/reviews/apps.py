from django.apps import AppConfig


class ReviewsConfig(AppConfig):
    name = "vetting.reviews"
    label = "reviews"
    verbose_name = "Labels and disputes"
