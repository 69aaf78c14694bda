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

    def current_by(self, user) -> LabelQuerySet:
        """The user's own current vetter labels: what "you have labeled it" means everywhere
        (the visibility rule, the queue's "labeled by me", assignment)."""
        return self.filter(vetter=getattr(user, "pk", user), source=LabelSource.HUMAN, is_current=True)

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
    #: Whether the model's prediction was on the page before this label (the blind rule,
    #: ``selectors.model_hidden``); None for labels that are not a vetter's, or older ones.
    model_shown = models.BooleanField(null=True, blank=True)
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
    method = models.CharField(max_length=32, help_text="curator, gold, dawid_skene, weighted_majority, catalog")
    needs_review = models.BooleanField(default=False, db_index=True, help_text="tie or flagged mislabel")
    #: ``{class code: probability}`` of the Dawid-Skene rule (empty for the other rules).
    posterior = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        indexes = [models.Index(fields=["label_class"])]

    def __str__(self) -> str:
        return f"{self.candidate_id}: {self.label_class} ({self.method})"


class CandidateReview(models.Model):
    """How many independent vetter labels a candidate needs and whether it still wants one.

    Kept by ``services`` with the consensus (same lock, same transaction). A candidate without
    a row wants ``VETTING_LABELS_PER_CANDIDATE`` labels and has none. ``is_open`` is what the
    queue reads: False once the candidate has what it needs (enough agreeing labels, a
    curator's decision or a gold label), or while a tie waits for a curator.
    """

    candidate = models.OneToOneField(Candidate, on_delete=models.CASCADE, related_name="review", primary_key=True)
    #: A curator's minimum number of independent labels (None: the setting's).
    labels_required = models.PositiveSmallIntegerField(null=True, blank=True)
    #: Labels the candidate wants now: the minimum, or one more where labels disagree or the
    #: vetters' reliability leaves the consensus unsure (adaptive overlap).
    labels_wanted = models.PositiveSmallIntegerField(default=2)
    n_labels = models.PositiveSmallIntegerField(default=0, help_text="current vetter labels counted")
    is_open = models.BooleanField(default=True, db_index=True, help_text="still wants a vetter label")
    needs_review = models.BooleanField(default=False, db_index=True,
                                       help_text="tie: no consensus until a curator decides")
    #: Known-answer check: a curator's gold candidate or an injected synthetic signal whose
    #: class is known; vetters see it like any other. Never a training target as a real one.
    is_known_answer = models.BooleanField(default=False, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.candidate_id}: {self.n_labels}/{self.labels_wanted} labels"


class Assignment(models.Model):
    """A candidate handed to a vetter (the "next" button, ``/api/queue/``) and not yet labeled.

    Counts against the candidate's overlap until ``expires_at`` (``VETTING_ASSIGNMENT_TTL_S``)
    or until the vetter labels it, so two vetters never get the same candidate beyond the
    number of labels it wants.
    """

    candidate = models.ForeignKey(Candidate, on_delete=models.CASCADE, related_name="assignments")
    vetter = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="assignments")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["candidate", "vetter"], name="assignment_one_per_vetter"),
        ]
        indexes = [models.Index(fields=["candidate", "expires_at"])]

    def __str__(self) -> str:
        return f"{self.candidate_id} -> {self.vetter_id} until {self.expires_at:%H:%M}"


class ReliabilityFit(models.Model):
    """One Dawid-Skene fit of every vetter's confusion matrix (``services.reliability_refit``).

    The newest row is what the consensus uses between fits. ``vetters`` maps a vetter id (as
    text) to ``{"confusion": [[P(says l | true j)]] (k x k, rows = true class in ``classes``
    order), "n_labels", "accuracy", "balanced_accuracy"}``.
    """

    classes = models.JSONField(default=list)
    priors = models.JSONField(default=list, help_text="class priors, ``classes`` order")
    vetters = models.JSONField(default=dict)
    n_items = models.PositiveIntegerField(default=0)
    n_labels = models.PositiveIntegerField(default=0)
    n_fixed = models.PositiveIntegerField(default=0, help_text="items with a curator, gold or known answer")
    n_iter = models.PositiveIntegerField(default=0)
    log_likelihood = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Reliability fit #{self.pk} ({self.n_labels} labels)"


class KnownAnswerSource(models.TextChoices):
    GOLD = "gold", "Curator gold"
    INJECTED = "injected", "Injected synthetic signal"


class KnownAnswer(models.Model):
    """The true class of a known-answer candidate (``CandidateReview.is_known_answer``).

    ``gold``: a candidate a curator settled (its truth stays the curator's consensus).
    ``injected``: a new candidate made by multiplying a simulated planet or eclipsing binary into
    a stored light curve (:mod:`classifier.injection`, :mod:`vetting.reviews.known_answers`); its
    vetter labels count for vetter reliability only: it never gets a consensus, never enters
    training and leaves exports marked ``injected`` (or not at all). Vetters are never told.
    """

    candidate = models.OneToOneField(Candidate, on_delete=models.CASCADE, related_name="known_answer",
                                     primary_key=True)
    source = models.CharField(max_length=16, choices=KnownAnswerSource.choices, db_index=True)
    true_class = models.CharField(max_length=8, choices=LABEL_CHOICES)
    #: Expected SNR of the injected signal on its light curve (None for gold).
    injected_snr = models.FloatField(null=True, blank=True)
    #: The injected model (ephemeris, depth, radius ratio, ...) and the donor light curve's id.
    parameters = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=~models.Q(source="injected") | models.Q(injected_snr__isnull=False),
                                   name="known_answer_injected_has_snr"),
        ]

    def __str__(self) -> str:
        return f"{self.candidate_id}: {self.true_class} ({self.source})"
