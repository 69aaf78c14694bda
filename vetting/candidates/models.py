"""Stars (Target), transit candidates (Candidate), light curves (LightCurve) and import jobs.

Units are in field names. Light curves are stored as compressed ``.npz`` files, never one row
per point; the small arrays a candidate page plots are precomputed at import time.
"""
from __future__ import annotations

import copy

import numpy as np
from django.conf import settings
from django.db import models
from django.db.models import F, OrderBy


class Mission(models.TextChoices):
    KEPLER = "kepler", "Kepler"
    K2 = "k2", "K2"
    TESS = "tess", "TESS"
    SIMULATED = "simulated", "Simulated"


class TimeSystem(models.TextChoices):
    BKJD = "BKJD", "BKJD (BJD - 2454833)"
    BTJD = "BTJD", "BTJD (BJD - 2457000)"
    BJD = "BJD", "BJD"


class SourceCatalog(models.TextChoices):
    KOI = "koi", "Kepler KOI (cumulative)"
    DR24_TCE = "dr24_tce", "Kepler DR24 TCE"
    DR25_TCE = "dr25_tce", "Kepler DR25 TCE"
    TOI = "toi", "TESS TOI"
    TESS_TCE = "tess_tce", "TESS TCE (Astronet-Triage)"
    SIMULATED = "simulated", "Simulated (demo)"


class NullsLastIndex(models.Index):
    """An index with ``NULLS LAST`` ordering on PostgreSQL.

    SQLite cannot say ``NULLS LAST`` in ``CREATE INDEX``; there the nulls ordering is dropped
    (the index still serves sorting on the column), so the same migration runs on both.
    """

    def create_sql(self, model, schema_editor, using="", **kwargs):
        if schema_editor.connection.vendor == "postgresql":
            return super().create_sql(model, schema_editor, using=using, **kwargs)
        plain = copy.copy(self)
        plain.expressions = tuple(
            OrderBy(e.expression, descending=e.descending) if isinstance(e, OrderBy) else e
            for e in self.expressions
        )
        return models.Index.create_sql(plain, model, schema_editor, using=using, **kwargs)


class Target(models.Model):
    """A star observed by a mission, keyed by its catalog id (``KIC 11446443``, ``TIC 25155310``)."""

    mission = models.CharField(max_length=16, choices=Mission.choices)
    catalog_id = models.CharField(max_length=64, help_text="KIC/TIC/EPIC id with its prefix")
    ra_deg = models.FloatField(null=True, blank=True)
    dec_deg = models.FloatField(null=True, blank=True)
    magnitude = models.FloatField(null=True, blank=True, help_text="Kepler or TESS magnitude")
    teff_k = models.FloatField(null=True, blank=True)
    logg_cgs = models.FloatField(null=True, blank=True)
    radius_rsun = models.FloatField(null=True, blank=True)
    mass_msun = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["mission", "catalog_id"]
        constraints = [models.UniqueConstraint(fields=["mission", "catalog_id"], name="target_unique_per_mission")]

    def __str__(self) -> str:
        return self.catalog_id


#: Candidate columns no list, queue row or export reads: the big blobs stay in the database.
HEAVY_FIELDS = ("global_view", "local_view", "plot_payload", "features", "catalog_features", "pixel_payload")


class CandidateQuerySet(models.QuerySet):
    """The one read path for candidates: the site, the API, the exports and the admin chain these.

    The reverse relations to ``learning`` (``predictions``, ``queue_entry``) are named, never
    imported, so this layer stays below the apps that own them.
    """

    def with_target(self) -> CandidateQuerySet:
        return self.select_related("target")

    def light(self) -> CandidateQuerySet:
        """Without the blobs (:data:`HEAVY_FIELDS`)."""
        return self.defer(*HEAVY_FIELDS)

    def with_active_prediction(self, version_id: int | None) -> CandidateQuerySet:
        """Annotate the prediction of classifier version ``version_id`` (the active one):
        ``p_planet``, ``predicted_class``, ``uncertainty`` (None without a version or prediction).

        One LEFT JOIN through ``FilteredRelation`` (at most one prediction per candidate and
        version), so filters and orderings on these use the (version, column) indexes.
        """
        if version_id is None:
            return self.annotate(p_planet=models.Value(None, output_field=models.FloatField()),
                                 predicted_class=models.Value(None, output_field=models.CharField()),
                                 uncertainty=models.Value(None, output_field=models.FloatField()))
        return self.annotate(
            active_prediction=models.FilteredRelation(
                "predictions", condition=models.Q(predictions__classifier_version_id=version_id)),
        ).annotate(p_planet=F("active_prediction__p_planet"),
                   predicted_class=F("active_prediction__predicted_class"),
                   uncertainty=F("active_prediction__uncertainty"))

    def with_queue(self) -> CandidateQuerySet:
        """Annotate the active-learning queue entry: ``queue_priority``, ``queue_strategy``
        (None outside the queue)."""
        return self.annotate(queue_priority=F("queue_entry__priority"), queue_strategy=F("queue_entry__strategy"))


class Candidate(models.Model):
    """A periodic transit-like signal on a target, as reported by a catalog or pipeline.

    The catalog disposition is kept apart from vetter labels (``reviews.Label``).
    """

    target = models.ForeignKey(Target, on_delete=models.PROTECT, related_name="candidates")
    source_catalog = models.CharField(max_length=16, choices=SourceCatalog.choices)
    catalog_id = models.CharField(max_length=64, help_text="K00752.01, TOI-1234.01, TCE id")
    period_days = models.FloatField(null=True, blank=True)
    epoch = models.FloatField(null=True, blank=True, help_text="mid-transit time in epoch_system")
    epoch_system = models.CharField(max_length=8, choices=TimeSystem.choices, default=TimeSystem.BKJD)
    duration_hours = models.FloatField(null=True, blank=True)
    depth_ppm = models.FloatField(null=True, blank=True)
    snr = models.FloatField(null=True, blank=True)
    impact = models.FloatField(null=True, blank=True)
    planet_radius_rearth = models.FloatField(null=True, blank=True)
    catalog_disposition = models.CharField(max_length=32, blank=True, db_index=True)
    catalog_score = models.FloatField(null=True, blank=True)
    catalog_features = models.JSONField(default=dict, blank=True)
    #: Vetting metrics computed from the light curve (classifier.features), units in keys.
    features = models.JSONField(default=dict, blank=True)
    #: Astronet-style views, float32 little-endian bytes: global (201,), local (61,).
    global_view = models.BinaryField(null=True, blank=True, editable=False)
    local_view = models.BinaryField(null=True, blank=True, editable=False)
    #: Small binned arrays the candidate page plots (classifier.plots.plot_payload).
    plot_payload = models.JSONField(null=True, blank=True, editable=False)
    #: Small images and centroids the candidate page's pixel section draws (computed from the
    #: target pixel files at import: vetting.candidates.importers.tpf; classifier.pixel_plots).
    pixel_payload = models.JSONField(null=True, blank=True, editable=False)
    #: Bitmask of the vetting flags the features fail (bit ``classifier.flags.FLAG_BITS[name]``),
    #: stored at import and recompute so the failed-flag filter is one integer test in SQL
    #: instead of evaluating every flag in Python; null until evaluated.
    failed_flags = models.BigIntegerField(null=True, blank=True, editable=False)
    #: Known truth for simulated candidates only (never shown to vetters before they label).
    simulated_truth = models.CharField(max_length=8, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = CandidateQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["source_catalog", "catalog_id"], name="candidate_unique_per_catalog"),
            models.CheckConstraint(
                condition=models.Q(period_days__isnull=True) | models.Q(period_days__gt=0),
                name="candidate_period_positive",
            ),
        ]
        indexes = [
            models.Index(fields=["source_catalog", "catalog_disposition"]),
            # Lookups by catalog id alone (API ?catalog_id=, search): the unique constraint leads with source_catalog.
            models.Index(fields=["catalog_id"], name="candidate_catalog_id_idx"),
            # The queue page's sorts, each ending with id as in vetting.web.selectors.SORTS, so a
            # page is read in index order instead of sorting every candidate.
            models.Index(F("created_at").desc(), F("id"), name="candidate_newest_idx"),
            NullsLastIndex(F("snr").desc(nulls_last=True), F("id"), name="candidate_snr_idx"),
            NullsLastIndex(F("period_days").asc(nulls_last=True), F("id"), name="candidate_period_idx"),
        ]

    def __str__(self) -> str:
        return self.catalog_id

    @property
    def mission(self) -> str:
        return self.target.mission

    def view_array(self, which: str) -> np.ndarray | None:
        """The stored global or local view as float32 array (201,) / (61,), or None."""
        raw = self.global_view if which == "global" else self.local_view
        return None if raw is None else np.frombuffer(bytes(raw), dtype="<f4")


def lightcurve_upload_to(instance: LightCurve, filename: str) -> str:
    return f"lightcurves/{instance.target.mission}/{instance.target_id}/{filename}"


class LightCurve(models.Model):
    """A light curve stored as an ``.npz`` file.

    ``kind=timeseries``: arrays ``time`` (days, in ``time_system``), ``flux`` (normalised),
    ``flux_err``, ``quality``. ``kind=folded``: arrays ``global_view`` (201,), ``local_view`` (61,).
    """

    class Kind(models.TextChoices):
        TIMESERIES = "timeseries", "Time series"
        FOLDED = "folded", "Pre-folded views"

    target = models.ForeignKey(Target, on_delete=models.CASCADE, related_name="lightcurves")
    candidate = models.ForeignKey(
        Candidate, on_delete=models.CASCADE, null=True, blank=True, related_name="lightcurves"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.TIMESERIES)
    mission = models.CharField(max_length=16, choices=Mission.choices)
    sector = models.PositiveIntegerField(null=True, blank=True, help_text="TESS sector")
    quarter = models.PositiveIntegerField(null=True, blank=True, help_text="Kepler quarter")
    cadence_s = models.FloatField(null=True, blank=True)
    flux_column = models.CharField(max_length=32, blank=True)
    time_system = models.CharField(max_length=8, choices=TimeSystem.choices, default=TimeSystem.BKJD)
    n_points = models.PositiveIntegerField(default=0)
    source = models.CharField(max_length=32, blank=True, help_text="fits, mast, astronet, simulated")
    original_filename = models.CharField(max_length=255, blank=True)
    sha256 = models.CharField(max_length=64, help_text="hash of the stored arrays")
    data = models.FileField(upload_to=lightcurve_upload_to, max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["target", "mission", "sector", "quarter"]
        constraints = [
            models.UniqueConstraint(fields=["target", "kind", "sha256"], name="lightcurve_unique_content"),
        ]

    def __str__(self) -> str:
        part = f"S{self.sector}" if self.sector is not None else f"Q{self.quarter}" if self.quarter is not None else ""
        return f"{self.target} {self.kind} {part}".strip()

    def load_arrays(self) -> dict[str, np.ndarray]:
        """Read the stored arrays (never pickled objects)."""
        with self.data.open("rb") as handle, np.load(handle, allow_pickle=False) as npz:
            return {key: npz[key] for key in npz.files}


def tpf_upload_to(instance: TargetPixelFile, filename: str) -> str:
    return f"tpf/{instance.target.mission}/{instance.target_id}/{filename}"


class TargetPixelFile(models.Model):
    """A target pixel file (Kepler/K2/TESS) stored as an ``.npz`` file.

    Arrays: ``time`` (n,) days in ``time_system``; ``flux``, ``flux_err`` (n, n_rows, n_cols)
    float32 e-/s, background subtracted; ``quality`` (n,) int32; ``aperture`` (n_rows, n_cols)
    int32 mission bits (2 = optimal aperture). The target's position in the stamp comes from
    the file's WCS (``target_column_px``/``target_row_px``, 0-based pixel centres).
    """

    target = models.ForeignKey(Target, on_delete=models.CASCADE, related_name="target_pixel_files")
    mission = models.CharField(max_length=16, choices=Mission.choices)
    sector = models.PositiveIntegerField(null=True, blank=True, help_text="TESS sector")
    quarter = models.PositiveIntegerField(null=True, blank=True, help_text="Kepler quarter")
    cadence_s = models.FloatField(null=True, blank=True)
    time_system = models.CharField(max_length=8, choices=TimeSystem.choices, default=TimeSystem.BKJD)
    n_cadences = models.PositiveIntegerField(default=0)
    n_rows = models.PositiveIntegerField(default=0)
    n_cols = models.PositiveIntegerField(default=0)
    ccd_column = models.IntegerField(null=True, blank=True, help_text="CCD column of the stamp's first pixel")
    ccd_row = models.IntegerField(null=True, blank=True, help_text="CCD row of the stamp's first pixel")
    target_column_px = models.FloatField(null=True, blank=True, help_text="target position in the stamp (WCS)")
    target_row_px = models.FloatField(null=True, blank=True)
    pixel_scale_arcsec = models.FloatField(null=True, blank=True)
    wcs = models.JSONField(default=dict, blank=True, help_text="FITS WCS keywords of the image")
    source = models.CharField(max_length=32, blank=True, help_text="fits, mast, simulated")
    original_filename = models.CharField(max_length=255, blank=True)
    sha256 = models.CharField(max_length=64, help_text="hash of the stored arrays")
    data = models.FileField(upload_to=tpf_upload_to, max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["target", "mission", "sector", "quarter"]
        constraints = [models.UniqueConstraint(fields=["target", "sha256"], name="tpf_unique_content")]

    def __str__(self) -> str:
        part = f"S{self.sector}" if self.sector is not None else f"Q{self.quarter}" if self.quarter is not None else ""
        return f"{self.target} TPF {part}".strip()

    def load_arrays(self) -> dict[str, np.ndarray]:
        """Read the stored arrays (never pickled objects)."""
        with self.data.open("rb") as handle, np.load(handle, allow_pickle=False) as npz:
            return {key: npz[key] for key in npz.files}


class ImportJob(models.Model):
    """A long import (catalog CSV, FITS, views bundle) as a row with a state and progress.

    Liveness (:mod:`vetting.core.liveness`): ``task_id`` stays empty until the broker accepted
    the job's message (beat re-sends it otherwise); ``heartbeat_at`` is refreshed while it runs;
    ``attempts`` counts starts (a job whose worker died is re-queued until
    ``VETTING_IMPORT_MAX_ATTEMPTS``); ``message`` says what recovery did. The uploaded file is
    deleted after the retention time (``upload`` empty, ``upload_purged_at`` set).

    A job runs as :class:`ImportChunk` rows (rows, files or candidates of a part of the work),
    processed in parallel by as many worker processes as there are: ``progress`` is the share
    of the job's items its chunks have done, ``counts`` the sum of theirs.
    """

    class Kind(models.TextChoices):
        CATALOG = "catalog", "Catalog table"
        FITS = "fits", "FITS light curve"
        VIEWS = "views", "Folded views bundle"

    class State(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        FINISHED = "finished"
        FAILED = "failed"

    #: A job with no upload that recomputes the products (views, metrics, plot payloads) of
    #: stored light curves in chunks (``services.products_job_create``); not an upload kind, so
    #: the upload forms and the API (which list ``Kind``) never offer it.
    PRODUCTS = "products"
    KIND_CHOICES = [*Kind.choices, (PRODUCTS, "Light-curve products")]

    kind = models.CharField(max_length=16, choices=KIND_CHOICES)
    state = models.CharField(max_length=16, choices=State.choices, default=State.QUEUED, db_index=True)
    upload = models.FileField(upload_to="imports/", max_length=255, blank=True)
    options = models.JSONField(default=dict, blank=True)
    progress = models.FloatField(default=0.0, help_text="0..1")
    counts = models.JSONField(default=dict, blank=True)
    errors = models.JSONField(default=list, blank=True)
    task_id = models.CharField(max_length=64, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    message = models.CharField(max_length=255, blank=True)
    upload_purged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.kind} import #{self.pk} ({self.state})"


class ImportChunk(models.Model):
    """One part of an :class:`ImportJob`, run by one Celery task (``import_chunk_run``).

    Idempotent: a chunk upserts under the unique constraints of what it writes, so running it
    again (after its worker died) updates, never duplicates; it is claimed with a conditional
    UPDATE ``queued -> running``. Liveness fields as on :class:`ImportJob`
    (:mod:`vetting.core.liveness`): ``heartbeat_at`` while it runs, ``attempts`` counts starts
    (re-queued until ``VETTING_IMPORT_MAX_ATTEMPTS``, then ``failed`` with the reason).
    ``spec`` says what the chunk covers (a stored part file, a candidate pk range); ``size`` is
    its number of items (rows, files, candidates) and ``done`` how many it has processed.
    """

    State = ImportJob.State

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="chunks")
    index = models.PositiveIntegerField()
    state = models.CharField(max_length=16, choices=State.choices, default=State.QUEUED)
    spec = models.JSONField(default=dict, blank=True)
    size = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    counts = models.JSONField(default=dict, blank=True)
    errors = models.JSONField(default=list, blank=True)
    task_id = models.CharField(max_length=64, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    message = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["job", "index"]
        constraints = [models.UniqueConstraint(fields=["job", "index"], name="import_chunk_unique_index")]
        indexes = [models.Index(fields=["state", "job"], name="import_chunk_state_idx")]

    def __str__(self) -> str:
        return f"chunk {self.index} of import #{self.job_id} ({self.state})"
