from django.apps import AppConfig


class CandidatesConfig(AppConfig):
    name = "vetting.candidates"
    label = "candidates"
    verbose_name = "Targets and candidates"
