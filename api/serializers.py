"""Serializers: model rows out, validated input in. No domain writes here (views call services)."""
from __future__ import annotations

from django.contrib.auth import get_user_model
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from api.fields import IdField, JSONObjectField, OptionalClassField, StrictCharField, StrictFloatField
from api.params import MAX_ID
from classifier.catalogs import TABLE_NAMES
from classifier.vocabulary import CLASSES
from vetting.candidates.models import Candidate, ImportJob, LightCurve, Target
from vetting.core import liveness
from vetting.learning.models import ClassifierVersion, Prediction, TrainingRun
from vetting.reviews import selectors as review_selectors
from vetting.reviews.models import Consensus, Dispute, DisputeComment, Label

# --- Targets, candidates, light curves -------------------------------------------------------

class TargetSerializer(serializers.ModelSerializer):
    class Meta:
        model = Target
        fields = ["id", "mission", "catalog_id", "ra_deg", "dec_deg", "magnitude", "teff_k", "logg_cgs",
                  "radius_rsun", "mass_msun"]


class TargetBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Target
        fields = ["id", "mission", "catalog_id"]


class CandidateSerializer(serializers.ModelSerializer):
    """A candidate in a list, with the active model's view of it and its queue priority."""

    target = TargetBriefSerializer(read_only=True)
    mission = serializers.CharField(source="target.mission", read_only=True)
    p_planet = serializers.FloatField(read_only=True, allow_null=True, help_text="active model, 0..1")
    predicted_class = serializers.ChoiceField(choices=CLASSES, read_only=True, allow_null=True)
    uncertainty = serializers.FloatField(read_only=True, allow_null=True, help_text="active model, 0..1")
    priority = serializers.FloatField(source="queue_priority", read_only=True, allow_null=True,
                                      help_text="active-learning queue priority")

    model_hidden = serializers.SerializerMethodField(
        help_text="the blind rule hides the model's view (p_planet, predicted_class, uncertainty are null) "
                  "until you label the candidate")

    class Meta:
        model = Candidate
        fields = ["id", "catalog_id", "source_catalog", "mission", "target", "period_days", "epoch", "epoch_system",
                  "duration_hours", "depth_ppm", "snr", "impact", "planet_radius_rearth", "catalog_disposition",
                  "catalog_score", "created_at", "p_planet", "predicted_class", "uncertainty", "priority",
                  "model_hidden"]

    def get_model_hidden(self, obj) -> bool:
        request = self.context.get("request")
        if request is None:
            return False
        mine = getattr(obj, "is_mine", None)
        return review_selectors.model_hidden(
            user=request.user, candidate_id=obj.pk,
            has_labeled=mine if mine is not None else (
                lambda: review_selectors.has_labeled(user=request.user, candidate_id=obj.pk)))

    def to_representation(self, instance):
        data = super().to_representation(instance)
        if data.get("model_hidden"):  # the site's blind rule (vetting.reviews.selectors.model_hidden)
            data.update(p_planet=None, predicted_class=None, uncertainty=None)
        return data


class LightCurveSerializer(serializers.ModelSerializer):
    class Meta:
        model = LightCurve
        fields = ["id", "kind", "mission", "sector", "quarter", "cadence_s", "flux_column", "time_system",
                  "n_points", "source", "sha256", "created_at"]


class ConsensusSerializer(serializers.ModelSerializer):
    class Meta:
        model = Consensus
        fields = ["label_class", "agreement", "n_labels", "method", "needs_review", "posterior", "updated_at"]


class CandidateDetailSerializer(CandidateSerializer):
    """One candidate with its vetting metrics, catalog columns, consensus and light curves."""

    features = serializers.DictField(read_only=True, help_text="vetting metrics, units in keys")
    catalog_features = serializers.DictField(read_only=True)
    consensus = serializers.SerializerMethodField()
    lightcurves = LightCurveSerializer(many=True, read_only=True)
    has_views = serializers.SerializerMethodField()

    class Meta(CandidateSerializer.Meta):
        fields = CandidateSerializer.Meta.fields + ["features", "catalog_features", "consensus", "lightcurves",
                                                    "has_views"]

    def get_consensus(self, obj) -> ConsensusSerializer(allow_null=True):
        """The team consensus, under the site's visibility rule (null until you label it)."""
        user = self.context["request"].user
        mine = getattr(obj, "is_mine", None)  # annotated by the view: no second query
        if mine is None:
            mine = review_selectors.has_labeled(user=user, candidate_id=obj.pk)
        consensus = review_selectors.visible_consensus(user=user, candidate=obj, has_labeled=mine)
        return ConsensusSerializer(consensus).data if consensus else None

    def get_has_views(self, obj) -> bool:
        return obj.global_view is not None and obj.local_view is not None


class QueueItemSerializer(CandidateSerializer):
    queue_strategy = serializers.CharField(read_only=True, help_text="strategy that chose the candidate")
    queue_priority = serializers.FloatField(read_only=True)
    mislabel_reason = serializers.CharField(read_only=True, allow_null=True, default=None,
                                            help_text="why a suspected mislabel is queued (suggested class and the "
                                                      "model's out-of-fold probability), else null")

    class Meta(CandidateSerializer.Meta):
        fields = [f for f in CandidateSerializer.Meta.fields if f not in ("priority",)] + [
            "queue_strategy", "queue_priority", "mislabel_reason"]


class LightCurveQuerySerializer(serializers.Serializer):
    """Query parameters of the light-curve data endpoint."""

    max_points = serializers.IntegerField(default=5000, min_value=10, max_value=50000,
                                          help_text="bound on raw points returned; longer series are binned in time")
    bins = serializers.IntegerField(default=200, min_value=10, max_value=5000, help_text="bins of the folded curve")
    lightcurve = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID,
                                          help_text="one light curve id (default: all time series)")


class SeriesSerializer(serializers.Serializer):
    time = serializers.ListField(child=serializers.FloatField(allow_null=True))
    flux = serializers.ListField(child=serializers.FloatField(allow_null=True))
    flux_err = serializers.ListField(child=serializers.FloatField(allow_null=True), allow_null=True)
    n_points_stored = serializers.IntegerField()
    n_points = serializers.IntegerField()
    binned = serializers.BooleanField()


class FoldedSerializer(serializers.Serializer):
    phase = serializers.ListField(child=serializers.FloatField(), help_text="bin centres, cycles, transit at 0")
    flux = serializers.ListField(child=serializers.FloatField(allow_null=True), help_text="median flux, null if empty")
    counts = serializers.ListField(child=serializers.IntegerField())
    period_days = serializers.FloatField()
    epoch = serializers.FloatField()


class ViewsSerializer(serializers.Serializer):
    global_view = serializers.ListField(child=serializers.FloatField(allow_null=True), allow_null=True)
    local_view = serializers.ListField(child=serializers.FloatField(allow_null=True), allow_null=True)


class LightCurveDataSerializer(serializers.Serializer):
    candidate = serializers.IntegerField()
    lightcurves = LightCurveSerializer(many=True)
    raw = SeriesSerializer(allow_null=True)
    folded = FoldedSerializer(allow_null=True)
    views = ViewsSerializer()


# --- Learning ---------------------------------------------------------------------------------

class ClassifierVersionSerializer(serializers.ModelSerializer):
    metrics = serializers.DictField(read_only=True, help_text="cross-validated metrics")
    classes = serializers.ListField(child=serializers.CharField(), read_only=True)
    feature_names = serializers.ListField(child=serializers.CharField(), read_only=True)
    library_versions = serializers.DictField(child=serializers.CharField(), read_only=True)
    comparison = serializers.DictField(
        read_only=True, help_text="paired comparison with the model active when it was trained, on the same labels")

    class Meta:
        model = ClassifierVersion
        fields = ["id", "name", "is_active", "status", "origin", "decision_reason", "comparison", "metrics",
                  "n_labels", "classes", "feature_names", "library_versions", "code_version", "seed",
                  "label_snapshot_hash", "artifact_sha256", "training_run", "created_at", "promoted_at"]


class PredictionSerializer(serializers.ModelSerializer):
    candidate_catalog_id = serializers.CharField(source="candidate.catalog_id", read_only=True)
    classifier_version_name = serializers.CharField(source="classifier_version.name", read_only=True)
    probabilities = serializers.DictField(child=serializers.FloatField(), read_only=True)

    class Meta:
        model = Prediction
        fields = ["id", "candidate", "candidate_catalog_id", "classifier_version", "classifier_version_name",
                  "probabilities", "predicted_class", "p_planet", "p_triage", "uncertainty", "disagreement",
                  "created_at"]


class ClassifierVersionBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = ClassifierVersion
        fields = ["id", "name", "status", "is_active", "origin"]


class JobSentMixin(serializers.Serializer):
    """``sent``: False while a queued job's task is not on the broker yet (it was accepted during a
    broker outage; beat re-sends it); ``message`` then says so (``vetting.core.liveness``)."""

    sent = serializers.SerializerMethodField()
    message = serializers.SerializerMethodField()

    def get_sent(self, obj) -> bool:
        return liveness.was_sent(obj)

    def get_message(self, obj) -> str:
        return liveness.status_message(obj, obj.message)


class TrainingRunSerializer(JobSentMixin, serializers.ModelSerializer):
    requested_by = serializers.CharField(source="requested_by.username", read_only=True, allow_null=True)
    classifier_version = serializers.SerializerMethodField()

    class Meta:
        model = TrainingRun
        fields = ["id", "state", "sent", "trigger", "requested_by", "progress", "message", "error", "attempts",
                  "n_labels", "label_snapshot_hash", "created_at", "started_at", "heartbeat_at", "finished_at",
                  "classifier_version"]

    def get_classifier_version(self, obj) -> ClassifierVersionBriefSerializer(allow_null=True):
        # A missing reverse one-to-one raises RelatedObjectDoesNotExist, an AttributeError: getattr's default.
        version = getattr(obj, "classifier_version", None)
        return ClassifierVersionBriefSerializer(version).data if version is not None else None


class QueueQuerySerializer(serializers.Serializer):
    limit = serializers.IntegerField(default=20, min_value=1, max_value=200, help_text="how many candidates")


# --- Reviews ----------------------------------------------------------------------------------

class LabelSerializer(serializers.ModelSerializer):
    vetter = serializers.CharField(source="vetter.username", read_only=True, allow_null=True)
    candidate_catalog_id = serializers.CharField(source="candidate.catalog_id", read_only=True)

    class Meta:
        model = Label
        fields = ["id", "candidate", "candidate_catalog_id", "vetter", "label_class", "confidence", "note",
                  "source", "is_current", "is_gold", "excluded_from_training", "supersedes", "seconds_spent",
                  "created_at"]
        read_only_fields = fields


class LabelUpdateSerializer(serializers.Serializer):
    """A new version of your label on the same candidate (the old one stays as history)."""

    label_class = serializers.ChoiceField(choices=CLASSES)
    confidence = StrictFloatField(default=1.0, min_value=0.0, max_value=1.0)
    note = StrictCharField(default="", allow_blank=True, max_length=5000)
    seconds_spent = StrictFloatField(required=False, allow_null=True, min_value=0.0, max_value=86400.0)


class LabelCreateSerializer(LabelUpdateSerializer):
    candidate = IdField(queryset=Candidate.objects.only("id"))


class DisputeCommentSerializer(serializers.ModelSerializer):
    author = serializers.CharField(source="author.username", read_only=True)

    class Meta:
        model = DisputeComment
        fields = ["id", "author", "text", "created_at"]
        read_only_fields = ["id", "author", "created_at"]


class DisputeSerializer(serializers.ModelSerializer):
    opened_by = serializers.CharField(source="opened_by.username", read_only=True)
    resolved_by = serializers.CharField(source="resolved_by.username", read_only=True, allow_null=True)
    comments = DisputeCommentSerializer(many=True, read_only=True)
    # The model stores "" for "no class"; the API answers null (every value is in the enum).
    disputed_class = OptionalClassField(choices=CLASSES, read_only=True)
    proposed_class = OptionalClassField(choices=CLASSES, read_only=True)
    resolved_class = OptionalClassField(choices=CLASSES, read_only=True)

    class Meta:
        model = Dispute
        fields = ["id", "candidate", "subject", "label", "model_version", "disputed_class", "proposed_class",
                  "reason", "opened_by", "status", "resolution", "resolved_class", "resolved_by", "resolved_at",
                  "created_at", "comments"]
        read_only_fields = fields


class DisputeCreateSerializer(serializers.Serializer):
    """Dispute a label (give ``label``) or the model's prediction (give ``model_version``)."""

    candidate = IdField(queryset=Candidate.objects.only("id"))
    reason = StrictCharField(max_length=5000)
    label = IdField(queryset=Label.objects.all(), required=False, allow_null=True)
    model_version = StrictCharField(required=False, allow_blank=True, max_length=64, default="")
    disputed_class = OptionalClassField(choices=CLASSES, required=False, allow_blank=True, default="")
    proposed_class = OptionalClassField(choices=CLASSES, required=False, allow_blank=True, default="")

    def validate(self, attrs):
        """A label that is not on this candidate, or that the visibility rule hides from you (another
        vetter's, before you labeled the candidate), is "no such label" (a 404), as it would be in
        the lists. The service checks both again under its lock."""
        label, candidate = attrs.get("label"), attrs["candidate"]
        user = self.context["request"].user
        if label is not None and (label.candidate_id != candidate.pk or (
                label.vetter_id != user.pk and not review_selectors.can_see_others_labels(
                    user=user, has_labeled=review_selectors.has_labeled(user=user, candidate_id=candidate.pk)))):
            raise serializers.ValidationError({"label": [serializers.ErrorDetail(
                f"No label {label.pk} of yours or visible to you on candidate {candidate.pk}.",
                code="does_not_exist")]})
        return attrs


class DisputeCommentCreateSerializer(serializers.Serializer):
    text = StrictCharField(max_length=5000)


class DisputeResolveSerializer(serializers.Serializer):
    resolved_class = serializers.ChoiceField(choices=CLASSES)
    resolution = StrictCharField(required=False, allow_blank=True, default="", max_length=5000)


# --- Imports ----------------------------------------------------------------------------------

class ImportJobSerializer(JobSentMixin, serializers.ModelSerializer):
    created_by = serializers.CharField(source="created_by.username", read_only=True, allow_null=True)
    options = serializers.DictField(read_only=True)
    counts = serializers.DictField(read_only=True)
    errors = serializers.ListField(read_only=True)

    class Meta:
        model = ImportJob
        fields = ["id", "kind", "state", "sent", "message", "progress", "counts", "errors", "options", "task_id",
                  "attempts", "created_by", "created_at", "started_at", "heartbeat_at", "finished_at",
                  "upload_purged_at"]
        read_only_fields = fields


@extend_schema_field({
    "type": "object", "additionalProperties": False,
    "properties": {"table": {"type": "string", "enum": list(TABLE_NAMES)}, "with_catalog_labels": {"type": "boolean"},
                   "mission": {"type": "string", "enum": ["kepler", "k2", "tess"]}},
})
class ImportOptionsField(JSONObjectField):
    """The importer options: a JSON object (in a multipart form, its JSON text)."""


class ImportJobCreateSerializer(serializers.Serializer):
    """A catalog CSV, a FITS light curve, or a views bundle (CSV in ``file`` + NPZ in ``views_file``)."""

    kind = serializers.ChoiceField(choices=ImportJob.Kind.choices)
    # Empty files are let through here: whether a file (empty or not) is what ``kind`` takes is the
    # content check's question (a 415), the same for every file.
    file = serializers.FileField(allow_empty_file=True, help_text="catalog CSV, FITS light curve, or the bundle's CSV")
    views_file = serializers.FileField(required=False, allow_empty_file=True,
                                       help_text="views bundle only: the .npz of folded views")
    options = ImportOptionsField(required=False, default=dict, help_text="importer options as a JSON object")
    # Whether the file(s) fit ``kind`` (content, a second file only for views) is checked by the
    # view, as a 415: a well-formed request whose files are of a format this kind does not take.


class MeSerializer(serializers.ModelSerializer):
    roles = serializers.SerializerMethodField()

    class Meta:
        model = get_user_model()
        fields = ["id", "username", "roles"]

    def get_roles(self, obj) -> list[str]:
        from vetting.core.roles import is_admin, is_curator, is_vetter

        return [name for name, check in (("vetter", is_vetter), ("curator", is_curator), ("admin", is_admin))
                if check(obj)]


class VetterReliabilitySerializer(serializers.Serializer):
    vetter_id = serializers.IntegerField()
    username = serializers.CharField()
    n_labels = serializers.IntegerField()
    accuracy = serializers.FloatField(allow_null=True, help_text="expected share right, class-prior weighted, 0..1")
    balanced_accuracy = serializers.FloatField(allow_null=True, help_text="mean per-class recall, 0..1")
    planet_recall = serializers.FloatField(allow_null=True, help_text="P(says PC | true PC)")
    confusion = serializers.DictField(child=serializers.DictField(child=serializers.FloatField()),
                                      help_text="{true class: {class said: probability}}")


class LabelsRequiredSerializer(serializers.Serializer):
    labels_required = serializers.IntegerField(min_value=1, max_value=20, allow_null=True,
                                               help_text="independent labels wanted at least; null: the default")
    candidate_ids = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False,
                                          max_length=10000)
    filter = serializers.DictField(child=serializers.CharField(allow_blank=True), required=False,
                                   help_text="candidate filter values as in /api/candidates/ (e.g. p_planet_min)")

    def validate(self, attrs):
        if ("candidate_ids" in attrs) == ("filter" in attrs):
            raise serializers.ValidationError("give exactly one of candidate_ids and filter")
        return attrs


class LabelsRequiredResultSerializer(serializers.Serializer):
    updated = serializers.IntegerField(help_text="candidates whose minimum was set")
    labels_required = serializers.IntegerField(allow_null=True)


class ProportionSerializer(serializers.Serializer):
    k = serializers.IntegerField()
    n = serializers.IntegerField()
    value = serializers.FloatField(allow_null=True)
    low = serializers.FloatField(allow_null=True, help_text="95 % Wilson interval")
    high = serializers.FloatField(allow_null=True)


class KnownAnswerVetterSerializer(serializers.Serializer):
    vetter_id = serializers.IntegerField()
    username = serializers.CharField()
    n = serializers.IntegerField(source="score.n", help_text="known answers labeled")
    accuracy = ProportionSerializer(source="score.accuracy")
    planet_recall = ProportionSerializer(source="score.recall", help_text="of true planets, share labeled PC")
    planet_precision = ProportionSerializer(source="score.precision", help_text="of PC labels, share true planets")


class SnrBinSerializer(serializers.Serializer):
    snr = serializers.CharField(help_text="SNR bin (injected: expected SNR)")
    planet_recall = ProportionSerializer()


class KnownAnswersSerializer(serializers.Serializer):
    n_known = serializers.IntegerField()
    n_injected = serializers.IntegerField()
    share = serializers.FloatField(help_text="VETTING_KNOWN_ANSWER_SHARE of each queue")
    vetters = KnownAnswerVetterSerializer(many=True)
    snr_recall = SnrBinSerializer(many=True)


class ReliabilitySerializer(serializers.Serializer):
    fit_id = serializers.IntegerField(allow_null=True)
    fitted_at = serializers.DateTimeField(allow_null=True)
    classes = serializers.ListField(child=serializers.CharField())
    priors = serializers.ListField(child=serializers.FloatField())
    n_labels = serializers.IntegerField()
    n_fixed = serializers.IntegerField(help_text="candidates with a curator decision or gold label (fixed truth)")
    rule = serializers.CharField(help_text="consensus rule: dawid_skene or weighted_majority")
    labels_per_candidate = serializers.IntegerField()
    blind_mode = serializers.CharField()
    vetters = VetterReliabilitySerializer(many=True)
    known_answers = KnownAnswersSerializer()
