from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "vetting.web"
    label = "web"
    verbose_name = "Site shell"

    def ready(self) -> None:
        from vetting.web import metrics  # its Prometheus collectors, registered into vetting.core.metrics

        metrics.register()
        from vetting.core import reports
        from vetting.web.views.report import report_html  # the API prints reports without importing the site

        reports.set_builder(report_html)
