"""Forms of the vetting pages: parse and validate input; the services do the writes."""
from __future__ import annotations

from django import forms

from classifier.vocabulary import CLASSES
from vetting.candidates.models import Mission

#: Confidence levels offered on the label form (stored as 0..1).
CONFIDENCE_CHOICES = ((1.0, "Sure"), (0.75, "Likely"), (0.5, "Unsure"))
#: Longest time a page can count as spent on one label, seconds (a tab left open overnight
#: would otherwise wreck the throughput statistics).
MAX_SECONDS_SPENT = 3600.0


class LabelForm(forms.Form):
    label_class = forms.ChoiceField(choices=CLASSES, widget=forms.RadioSelect, label="Class")
    confidence = forms.TypedChoiceField(choices=CONFIDENCE_CHOICES, coerce=float, initial=1.0)
    note = forms.CharField(required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))
    seconds_spent = forms.FloatField(required=False, min_value=0.0, widget=forms.HiddenInput)

    def clean_seconds_spent(self) -> float | None:
        value = self.cleaned_data.get("seconds_spent")
        return None if value is None else min(value, MAX_SECONDS_SPENT)


class DisputeForm(forms.Form):
    """``subject`` is ``prediction`` or ``label:<id>`` (one of the labels the user can see)."""

    subject = forms.ChoiceField(choices=())
    proposed_class = forms.ChoiceField(choices=(("", "— no proposal —"), *CLASSES), required=False,
                                       label="Proposed class")
    reason = forms.CharField(max_length=4000, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, subjects: list[tuple[str, str]], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["subject"].choices = subjects

    def clean_reason(self) -> str:
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise forms.ValidationError("Give a reason for the dispute.")
        return reason


class CommentForm(forms.Form):
    text = forms.CharField(max_length=4000, widget=forms.Textarea(attrs={"rows": 3}), label="Comment")


class ResolveForm(forms.Form):
    resolved_class = forms.ChoiceField(choices=CLASSES, label="Decision")
    resolution = forms.CharField(required=False, max_length=4000, widget=forms.Textarea(attrs={"rows": 3}),
                                 label="Reasoning (recorded with the curated label)")


SORT_CHOICES = (
    ("priority", "Active-learning priority"),
    ("uncertainty", "Model uncertainty"),
    ("p_planet_desc", "P(planet), high first"),
    ("p_planet_asc", "P(planet), low first"),
    ("snr", "SNR, high first"),
    ("period", "Period, short first"),
    ("newest", "Newest"),
)


class QueueFilterForm(forms.Form):
    """The queue's GET filters. Bad values are reported on the page and ignored."""

    mission = forms.ChoiceField(choices=(("", "All missions"), *Mission.choices), required=False)
    disposition = forms.CharField(required=False, max_length=32, label="Catalog disposition")
    model_class = forms.ChoiceField(choices=(("", "Any"), *CLASSES), required=False, label="Model class")
    p_min = forms.FloatField(required=False, min_value=0.0, max_value=1.0, label="P(planet) ≥")
    p_max = forms.FloatField(required=False, min_value=0.0, max_value=1.0, label="P(planet) ≤")
    labeled = forms.ChoiceField(choices=(("", "Any"), ("unlabeled", "No team label yet"),
                                         ("labeled", "Has a team label")), required=False, label="Team label")
    disputed = forms.BooleanField(required=False, label="Open dispute")
    mine = forms.BooleanField(required=False, label="My labels")
    sort = forms.ChoiceField(choices=SORT_CHOICES, required=False)

    def clean(self):
        data = super().clean()
        lo, hi = data.get("p_min"), data.get("p_max")
        if lo is not None and hi is not None and lo > hi:
            raise forms.ValidationError("P(planet) ≥ must not exceed P(planet) ≤.")
        return data
