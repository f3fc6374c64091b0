from django import forms

from tracker.catalogue.models import Confidence


class AmendmentForm(forms.Form):
    """Record that a later act moved a milestone's date (one form, not three hand edits)."""

    PREFILL = ("new_date", "amending_act", "source_url", "effective_on", "note")

    new_date = forms.DateField(
        help_text="The date in force after the amendment (YYYY-MM-DD).",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    amending_act = forms.CharField(max_length=200, help_text="e.g. Regulation (EU) 2026/1744")
    source_url = forms.URLField(max_length=500, assume_scheme="https")
    effective_on = forms.DateField(
        required=False,
        help_text="When the amending act entered into force.",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    confidence = forms.ChoiceField(choices=Confidence.choices, initial=Confidence.HIGH)
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
