from django import forms
from django.core.exceptions import ValidationError

from tracker.catalogue.models import Confidence, Milestone
from tracker.catalogue.services import EDITABLE_FIELDS, milestone_check_change


class MilestoneAdminForm(forms.ModelForm):
    """The admin's milestone form, held to the same rule as packs and the services."""

    source_url = forms.URLField(max_length=500, assume_scheme="https")

    class Meta:
        model = Milestone
        fields = [*EDITABLE_FIELDS, "roles", "scopes"]

    def clean(self):
        cleaned = super().clean()
        current = (
            Milestone.objects.filter(pk=self.instance.pk).first() if self.instance.pk else None
        )
        if current is not None and "date" in cleaned:
            try:
                milestone_check_change(milestone=current, values={"date": cleaned["date"]})
            except ValidationError as exc:
                self.add_error("date", exc.message_dict.get("date", exc.messages))
        return cleaned


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
