"""Classifier versions, training runs (a state machine), predictions and the vetting queue."""
from __future__ import annotations

from django.conf import settings
from django.db import models
from simple_history.models import HistoricalRecords

from classifier.vocabulary import CLASSES
from vetting.candidates.models import Candidate


class TrainingRun(models.Model):
    """One retrain, run by a Celery task. States: queued -> running -> finished | failed.

    ``heartbeat_at`` is refreshed while running, so a run whose worker died is detected and
    marked failed (never left running forever).
    """

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        FINISHED = "finished", "Finished"
        FAILED = "failed", "Failed"

    class Trigger(models.TextChoices):
        MANUAL = "manual", "Site"
        API = "api", "API"
        ADMIN = "admin", "Admin"
        THRESHOLD = "threshold", "New labels"
        SCHEDULE = "schedule", "Schedule"

    state = models.CharField(max_length=16, choices=State.choices, default=State.QUEUED, db_index=True)
    trigger = models.CharField(max_length=16, choices=Trigger.choices, default=Trigger.MANUAL)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    task_id = models.CharField(max_length=64, blank=True)
    progress = models.FloatField(default=0.0, help_text="0..1")
    message = models.CharField(max_length=255, blank=True, help_text="current step")
    error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    label_snapshot_hash = models.CharField(max_length=64, blank=True)
    n_labels = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # The lock: at most one run may be running at any time. Requests made while one runs
            # coalesce into the single queued follow-up run.
            models.UniqueConstraint(
                fields=["state"], condition=models.Q(state="running"), name="one_running_training_run",
            ),
            models.CheckConstraint(
                condition=models.Q(progress__gte=0.0, progress__lte=1.0), name="training_progress_0_1",
            ),
        ]

    def __str__(self) -> str:
        return f"Training run #{self.pk} ({self.state})"


class ClassifierVersion(models.Model):
    """An immutable trained model: artifact file + metadata. At most one is active."""

    class Status(models.TextChoices):
        PROMOTED = "promoted", "Promoted"
        REJECTED = "rejected", "Rejected (kept, not promoted)"
        RETIRED = "retired", "Retired"

    class Origin(models.TextChoices):
        TEAM = "team", "Team labels"
        BASE = "base", "Base model (public labels)"

    name = models.CharField(max_length=64, unique=True, help_text="e.g. v12")
    training_run = models.OneToOneField(
        TrainingRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="classifier_version"
    )
    artifact = models.FileField(upload_to="models/", max_length=255)
    artifact_sha256 = models.CharField(max_length=64)
    metrics = models.JSONField(default=dict, blank=True)
    label_snapshot_hash = models.CharField(max_length=64)
    n_labels = models.PositiveIntegerField(default=0)
    classes = models.JSONField(default=list)
    feature_names = models.JSONField(default=list, blank=True)
    library_versions = models.JSONField(default=dict, blank=True)
    code_version = models.CharField(max_length=64, blank=True)
    seed = models.BigIntegerField(default=0)
    is_active = models.BooleanField(default=False)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.REJECTED)
    decision_reason = models.TextField(blank=True, help_text="why it was or was not promoted")
    origin = models.CharField(
        max_length=8, choices=Origin.choices, default=Origin.TEAM,
        help_text="team: trained on the site's consensus labels; base: a warm start trained on public labels",
    )
    comparison = models.JSONField(
        default=dict, blank=True,
        help_text="paired comparison with the model active when it was trained, on the same labels "
                  "(classifier.evaluation.paired_compare details)",
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    promoted_at = models.DateTimeField(null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_active"], condition=models.Q(is_active=True), name="one_active_classifier",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Prediction(models.Model):
    """A classifier version's calibrated probabilities for a candidate (one per pair)."""

    candidate = models.ForeignKey(Candidate, on_delete=models.CASCADE, related_name="predictions")
    classifier_version = models.ForeignKey(ClassifierVersion, on_delete=models.CASCADE, related_name="predictions")
    probabilities = models.JSONField(help_text="{class code: probability}")
    per_model = models.JSONField(default=dict, blank=True, help_text="{family: {class code: probability}}")
    predicted_class = models.CharField(max_length=8, choices=list(CLASSES))
    p_planet = models.FloatField()
    p_triage = models.FloatField()
    uncertainty = models.FloatField(help_text="normalised entropy of the ensemble, 0..1")
    disagreement = models.FloatField(default=0.0, help_text="between model families")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["candidate", "classifier_version"], name="prediction_unique_per_version"),
        ]
        indexes = [
            models.Index(fields=["classifier_version", "p_planet"]),
            models.Index(fields=["classifier_version", "uncertainty"]),
            models.Index(fields=["classifier_version", "predicted_class"]),
        ]


class QueueEntry(models.Model):
    """A candidate the active-learning strategy wants vetted next, with the strategy that chose it."""

    candidate = models.OneToOneField(Candidate, on_delete=models.CASCADE, related_name="queue_entry")
    priority = models.FloatField(db_index=True, help_text="higher is shown first")
    strategy = models.CharField(max_length=32, help_text="uncertainty, committee, random, mislabel, ...")
    classifier_version = models.ForeignKey(ClassifierVersion, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-priority"]


class MislabelFlag(models.Model):
    """A candidate whose consensus label the cross-validated model finds most unlikely."""

    candidate = models.ForeignKey(Candidate, on_delete=models.CASCADE, related_name="mislabel_flags")
    training_run = models.ForeignKey(TrainingRun, on_delete=models.CASCADE, related_name="mislabel_flags")
    given_class = models.CharField(max_length=8, choices=list(CLASSES))
    suggested_class = models.CharField(max_length=8, choices=list(CLASSES))
    score = models.FloatField(help_text="self-confidence of the given label, lower is more suspect")
    is_open = models.BooleanField(default=True, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["score"]
        constraints = [
            models.UniqueConstraint(fields=["candidate", "training_run"], name="mislabel_flag_unique_per_run"),
        ]


class QueueSettings(models.Model):
    """The curators' choice of query-strategy mix for the vetting queue (one row, ``pk=1``).

    Without a row the queue uses ``VETTING_QUERY_MIX``. Shares are relative weights of the
    strategies of ``classifier.active.STRATEGIES``; the model page explains the trade-off.
    """

    mix = models.JSONField(help_text='{strategy: share}, e.g. {"likely_planet": 0.3, "planet": 0.4, ...}')
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = "queue settings"
        verbose_name_plural = "queue settings"

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        from classifier.active import STRATEGIES

        if not isinstance(self.mix, dict) or not self.mix:
            raise ValidationError({"mix": "a mapping of strategy to share"})
        unknown = sorted(set(self.mix) - set(STRATEGIES))
        if unknown:
            raise ValidationError({"mix": f"unknown strategies {unknown}; choose from {', '.join(STRATEGIES)}"})
        try:
            shares = [float(v) for v in self.mix.values()]
        except (TypeError, ValueError):
            raise ValidationError({"mix": "every share must be a number"}) from None
        if any(v < 0 for v in shares) or sum(shares) <= 0:
            raise ValidationError({"mix": "shares must be >= 0 and sum to more than 0"})

    def __str__(self) -> str:
        return "Queue settings"
