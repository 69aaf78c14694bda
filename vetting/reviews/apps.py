from django.apps import AppConfig


class ReviewsConfig(AppConfig):
    name = "vetting.reviews"
    label = "reviews"
    verbose_name = "Labels and disputes"

    def ready(self) -> None:
        from vetting.reviews import metrics  # its Prometheus collectors, registered into vetting.core.metrics

        metrics.register()
