"""Vetter labels, disputes and the consensus label that training uses.

Labels are never deleted or edited in place: a new label supersedes the vetter's previous one
(``is_current`` flips), so the full history stays. A partial unique constraint allows one
current human label per vetter per candidate.
"""
from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from simple_history.models import HistoricalRecords

from classifier.vocabulary import CLASSES
from vetting.candidates.models import Candidate

LABEL_CHOICES = list(CLASSES)


class LabelSource(models.TextChoices):
    HUMAN = "human", "Vetter"
    CATALOG = "catalog", "Catalog disposition"
    CURATOR = "curator", "Curator decision"


class LabelQuerySet(models.QuerySet):
    def current(self) -> LabelQuerySet:
        return self.filter(is_current=True)

    def human(self) -> LabelQuerySet:
        return self.filter(source=LabelSource.HUMAN)

    def for_training(self) -> LabelQuerySet:
        return self.current().filter(excluded_from_training=False)


class Label(models.Model):
    """One vetter's (or the catalog's, or a curator's) classification of a candidate."""

    candidate = models.ForeignKey(Candidate, on_delete=models.CASCADE, related_name="labels")
    vetter = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="labels"
    )
    label_class = models.CharField(max_length=8, choices=LABEL_CHOICES)
    confidence = models.FloatField(
        default=1.0, validators=[MinValueValidator(0.0), MaxValueValidator(1.0)], help_text="0..1"
    )
    note = models.TextField(blank=True)
    source = models.CharField(max_length=16, choices=LabelSource.choices, default=LabelSource.HUMAN)
    is_current = models.BooleanField(default=True)
    is_gold = models.BooleanField(default=False, help_text="curated ground truth")
    excluded_from_training = models.BooleanField(default=False)
    supersedes = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="superseded_by"
    )
    #: Seconds the vetter spent on the candidate page before submitting (for throughput stats).
    seconds_spent = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    history = HistoricalRecords()

    objects = LabelQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["candidate", "vetter"],
                condition=models.Q(is_current=True, source="human"),
                name="label_one_current_per_vetter",
            ),
            models.UniqueConstraint(
                fields=["candidate", "source"],
                condition=models.Q(is_current=True, source__in=["catalog", "curator"]),
                name="label_one_current_catalog_or_curator",
            ),
            models.CheckConstraint(
                condition=models.Q(confidence__gte=0.0, confidence__lte=1.0), name="label_confidence_0_1"
            ),
            models.CheckConstraint(
                condition=~models.Q(source="human") | models.Q(vetter__isnull=False),
                name="label_human_has_vetter",
            ),
        ]
        indexes = [
            models.Index(fields=["candidate", "is_current"]),
            models.Index(fields=["vetter", "created_at"]),
        ]

    def __str__(self) -> str:
        who = self.vetter or self.source
        return f"{self.candidate} = {self.label_class} by {who}"


class Dispute(models.Model):
    """A challenge to a model prediction or to a label, settled by a curator.

    A dispute of a prediction names the model version as text (``reviews`` must not depend on
    ``learning``); a dispute of a label points at the label.
    """

    class Subject(models.TextChoices):
        PREDICTION = "prediction", "Model prediction"
        LABEL = "label", "Label"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        RESOLVED = "resolved", "Resolved"

    candidate = models.ForeignKey(Candidate, on_delete=models.CASCADE, related_name="disputes")
    subject = models.CharField(max_length=16, choices=Subject.choices)
    label = models.ForeignKey(Label, null=True, blank=True, on_delete=models.SET_NULL, related_name="disputes")
    model_version = models.CharField(max_length=64, blank=True)
    disputed_class = models.CharField(max_length=8, choices=LABEL_CHOICES, blank=True)
    proposed_class = models.CharField(max_length=8, choices=LABEL_CHOICES, blank=True)
    reason = models.TextField()
    opened_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="disputes_opened")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN, db_index=True)
    resolution = models.TextField(blank=True)
    resolved_class = models.CharField(max_length=8, choices=LABEL_CHOICES, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="disputes_resolved"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(subject="label") | models.Q(label__isnull=False), name="dispute_label_subject"
            ),
            models.CheckConstraint(
                condition=~models.Q(status="resolved") | models.Q(resolved_by__isnull=False),
                name="dispute_resolved_has_curator",
            ),
        ]

    def __str__(self) -> str:
        return f"Dispute #{self.pk} on {self.candidate} ({self.status})"


class DisputeComment(models.Model):
    """A message in a dispute's discussion."""

    dispute = models.ForeignKey(Dispute, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    text = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]


class Consensus(models.Model):
    """The team's label for a candidate, recomputed by ``services`` whenever its labels change.

    This is what training uses. ``method`` says which rule decided it.
    """

    candidate = models.OneToOneField(Candidate, on_delete=models.CASCADE, related_name="consensus", primary_key=True)
    label_class = models.CharField(max_length=8, choices=LABEL_CHOICES)
    agreement = models.FloatField(help_text="weight share of the winning class, 0..1")
    n_labels = models.PositiveIntegerField()
    method = models.CharField(max_length=32, help_text="curator, gold, weighted_majority, catalog")
    needs_review = models.BooleanField(default=False, db_index=True, help_text="tie or flagged mislabel")
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        indexes = [models.Index(fields=["label_class"])]

    def __str__(self) -> str:
        return f"{self.candidate_id}: {self.label_class} ({self.method})"
