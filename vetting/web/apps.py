from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "vetting.web"
    label = "web"
    verbose_name = "Site shell"
