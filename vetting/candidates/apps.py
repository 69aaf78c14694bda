from django.apps import AppConfig


class CandidatesConfig(AppConfig):
    name = "vetting.candidates"
    label = "candidates"
    verbose_name = "Targets and candidates"

    def ready(self) -> None:
        from vetting.candidates import metrics  # its Prometheus collectors, registered into vetting.core.metrics

        metrics.register()
