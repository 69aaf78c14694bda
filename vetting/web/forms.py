"""Forms of the vetting pages: parse and validate input; the services do the writes."""
from __future__ import annotations

from django import forms

from classifier.vocabulary import CLASSES

#: Confidence levels offered on the label form (stored as 0..1).
CONFIDENCE_CHOICES = ((1.0, "Sure"), (0.75, "Likely"), (0.5, "Unsure"))


class LabelForm(forms.Form):
    label_class = forms.ChoiceField(choices=CLASSES, widget=forms.RadioSelect, label="Class")
    confidence = forms.TypedChoiceField(choices=CONFIDENCE_CHOICES, coerce=float, initial=1.0)
    note = forms.CharField(required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))
    #: capped by ``reviews.services.label_create`` (``MAX_SECONDS_SPENT``), as for the API
    seconds_spent = forms.FloatField(required=False, min_value=0.0, widget=forms.HiddenInput)


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
