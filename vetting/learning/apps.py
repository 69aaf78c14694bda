from django.apps import AppConfig


class LearningConfig(AppConfig):
    name = "vetting.learning"
    label = "learning"
    verbose_name = "Classifier and active learning"
