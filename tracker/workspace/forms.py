from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import UserCreationForm
from django.core.validators import URLValidator

from tracker.reminders.forms import ReminderTimingForm
from tracker.workspace.models import AISystem, CompanyRole, Incident, Membership, TrackedItem


class SignupForm(UserCreationForm):
    email = forms.EmailField(help_text="For password resets and reminders.")

    class Meta(UserCreationForm.Meta):
        model = get_user_model()
        fields = ["username", "email"]


class OrganisationForm(forms.Form):
    name = forms.CharField(max_length=120, label="Company name")


class RolesForm(forms.Form):
    roles = forms.MultipleChoiceField(
        choices=CompanyRole.choices, required=False, widget=forms.CheckboxSelectMultiple,
        label="Our roles under the AI Act",
        help_text="Art. 3: provider (develops or has developed and places on the market under "
        "its name), deployer (uses under its authority), importer, distributor...",
    )  # fmt: skip


class SystemForm(forms.ModelForm):
    class Meta:
        model = AISystem
        fields = ["name", "purpose", "risk_class", "annex_iii_area", "is_gpai_model",
                  "gpai_systemic_risk", "generative", "placed_on_market",
                  "used_by_public_authority"]  # fmt: skip
        widgets = {
            "placed_on_market": forms.DateInput(attrs={"type": "date"}),
            "purpose": forms.Textarea(attrs={"rows": 3}),
        }


class ItemForm(forms.ModelForm):
    evidence = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 3}),
        label="Evidence links", help_text="One URL per line.",
    )  # fmt: skip

    class Meta:
        model = TrackedItem
        fields = ["status", "not_applicable_reason", "owner", "target_date", "notes"]
        widgets = {
            "target_date": forms.DateInput(attrs={"type": "date"}),
            "notes": forms.Textarea(attrs={"rows": 4}),
            "not_applicable_reason": forms.Textarea(attrs={"rows": 2}),
        }

    def __init__(self, *args, members, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = members
        self.fields["evidence"].initial = "\n".join(self.instance.evidence_links)

    def clean_evidence(self):
        links = [
            line.strip() for line in self.cleaned_data["evidence"].splitlines() if line.strip()
        ]
        validate = URLValidator(schemes=["http", "https"])
        for link in links:
            try:
                validate(link)
            except forms.ValidationError:
                raise forms.ValidationError(f"“{link}” is not an http(s) link.") from None
        return links

    def clean(self):
        data = super().clean()
        if (
            data.get("status") == TrackedItem.Status.NOT_APPLICABLE
            and not data.get("not_applicable_reason", "").strip()
        ):
            self.add_error("not_applicable_reason", "Say why it does not apply.")
        return data


class IncidentForm(forms.ModelForm):
    class Meta:
        model = Incident
        fields = ["system", "kind", "aware_at", "description", "owner"]
        widgets = {
            "aware_at": forms.DateTimeInput(attrs={"type": "datetime-local"}),
            "description": forms.Textarea(attrs={"rows": 3}),
        }
        labels = {"aware_at": "Became aware at (your local time)"}

    def __init__(self, *args, organisation, members, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["system"].queryset = organisation.systems.all()
        self.fields["owner"].queryset = members


class InvitationForm(forms.Form):
    email = forms.EmailField()
    role = forms.ChoiceField(choices=Membership.Role.choices, initial=Membership.Role.EDITOR)


class ReminderSettingsForm(ReminderTimingForm):
    """An owner's own lead times, time zone and hour for reminders about their items."""
