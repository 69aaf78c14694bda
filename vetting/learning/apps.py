from django.apps import AppConfig


class LearningConfig(AppConfig):
    name = "vetting.learning"
    label = "learning"
    verbose_name = "Classifier and active learning"

    def ready(self) -> None:
        from vetting.learning import metrics  # its Prometheus collectors, registered into vetting.core.metrics

        metrics.register()
