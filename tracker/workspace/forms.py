import datetime as dt

from django import forms

from tracker.reminders.forms import ReminderTimingForm
from tracker.workspace.facts import CONTRACT_NAMES, MODEL_FIELDS, FactsInvalid, facts_parse
from tracker.workspace.models import (
    TARGET_DATE_MAX,
    TARGET_DATE_MIN,
    AISystem,
    CompanyRole,
    Membership,
    Organisation,
    TrackedItem,
)


class OrganisationForm(forms.Form):
    name = forms.CharField(max_length=120, label="Company name")


class CompanyFactsForm(forms.ModelForm):
    """Who the company is under the AI Act (the facts that are not per system)."""

    class Meta:
        model = Organisation
        fields = ["established_in_eu", "public_body", "provides_public_services"]


class SystemForm(forms.ModelForm):
    """One AI system's facts; validated by the same rules as the API and the public checker."""

    roles = forms.MultipleChoiceField(
        choices=CompanyRole.choices, widget=forms.CheckboxSelectMultiple,
        label="Our roles for this system",
        help_text="Art. 3: the provider develops it (or has it developed) and places it on the "
        "market under its own name; the deployer uses it under its authority; the importer "
        "and distributor bring someone else's system to the Union market.",
    )  # fmt: skip
    art50 = forms.MultipleChoiceField(
        choices=AISystem.Art50.choices, widget=forms.CheckboxSelectMultiple, required=False,
        label="What it does (Art. 50)",
    )  # fmt: skip
    art25 = forms.MultipleChoiceField(
        choices=AISystem.Art25.choices, widget=forms.CheckboxSelectMultiple, required=False,
        label="Re-qualification (Art. 25)",
        help_text="For a high-risk system someone else provided.",
    )  # fmt: skip

    class Meta:
        model = AISystem
        fields = ["name", "purpose", "roles", "risk_class", "annex_iii_point", "annex_i_section",
                  "art50", "is_gpai_model", "gpai_systemic_risk", "open_source",
                  "placed_on_market", "intended_for_public_authorities", "art25"]  # fmt: skip
        widgets = {
            "placed_on_market": forms.DateInput(attrs={"type": "date"}),
            "purpose": forms.Textarea(attrs={"rows": 3}),
        }

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        # The system's facts only (the admin's form adds the organisation).
        payload = {CONTRACT_NAMES.get(n, n): data.get(n) for n in MODEL_FIELDS}
        try:
            facts_parse({"systems": [payload]}, today=dt.date.today())
        except FactsInvalid as exc:
            by_contract = {CONTRACT_NAMES.get(n, n): n for n in MODEL_FIELDS}
            for where, messages in exc.errors.items():
                field = by_contract.get(where.rpartition(".")[2])
                for message in messages:
                    self.add_error(field, message)
        return data


class ItemForm(forms.ModelForm):
    class Meta:
        model = TrackedItem
        fields = ["status", "not_applicable_reason", "owner", "target_date", "notes"]
        widgets = {
            "target_date": forms.DateInput(
                attrs={"type": "date", "min": TARGET_DATE_MIN, "max": TARGET_DATE_MAX}
            ),
            "notes": forms.Textarea(attrs={"rows": 4}),
            "not_applicable_reason": forms.Textarea(attrs={"rows": 2}),
        }

    def __init__(self, *args, members, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = members

    def clean(self):
        data = super().clean()
        if (
            data.get("status") == TrackedItem.Status.NOT_APPLICABLE
            and not data.get("not_applicable_reason", "").strip()
        ):
            self.add_error("not_applicable_reason", "Say why it does not apply.")
        return data


class InvitationForm(forms.Form):
    email = forms.EmailField(
        max_length=254, help_text="The invitation works only for an account with this address."
    )
    role = forms.ChoiceField(choices=Membership.Role.choices, initial=Membership.Role.EDITOR)


class ReminderSettingsForm(ReminderTimingForm):
    """What a person hears about the items they own in one organisation, and when."""

    field_order = ["enabled", "lead_days", "timezone", "send_hour", "overdue_digest",
                   "incident_clock", "item_moved", "evidence_expiry"]  # fmt: skip

    enabled = forms.BooleanField(
        required=False, initial=True, label="Remind me before the dates of the items I own",
        help_text="Counting down to your target date when you set one.",
    )  # fmt: skip
    overdue_digest = forms.BooleanField(
        required=False, initial=True, label="A weekly digest of my overdue items"
    )
    incident_clock = forms.BooleanField(
        required=False, initial=True,
        label="A daily reminder of each unreported incident I own, or of every one in an "
        "organisation I own, until it is reported",
    )  # fmt: skip
    item_moved = forms.BooleanField(
        required=False, initial=True, label="A notice when the legal date of an item I own moves"
    )
    evidence_expiry = forms.BooleanField(
        required=False, initial=True,
        label="A reminder before evidence I own (or that nobody owns, in an organisation I own) "
        "expires",
    )  # fmt: skip


class MemberRoleForm(forms.Form):
    """An owner gives a member another role; stepping down from owner needs a tick."""

    role = forms.ChoiceField(choices=Membership.Role.choices)
    confirm = forms.BooleanField(
        required=False, label="I understand that I will no longer be an owner of this organisation"
    )

    def __init__(self, *args, own_ownership: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.own_ownership = own_ownership
        if not own_ownership:
            del self.fields["confirm"]

    def clean(self):
        data = super().clean()
        stepping_down = data.get("role") not in (None, Membership.Role.OWNER)
        if self.own_ownership and stepping_down and not data.get("confirm"):
            self.add_error("confirm", "Tick this box to give up your ownership.")
        return data


class OwnershipTransferForm(forms.Form):
    """An owner makes another member owner and says what they become themselves."""

    STAY = [
        (Membership.Role.EDITOR, "Step down to editor"),
        (Membership.Role.VIEWER, "Step down to viewer"),
        (Membership.Role.OWNER, "Stay an owner as well"),
    ]

    to = forms.ModelChoiceField(queryset=Membership.objects.none(), label="New owner",
                                empty_label=None)  # fmt: skip
    then = forms.ChoiceField(choices=STAY, initial=Membership.Role.EDITOR,
                             widget=forms.RadioSelect, label="And you")  # fmt: skip

    def __init__(self, *args, candidates, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["to"].queryset = candidates
        self.fields["to"].label_from_instance = (
            lambda m: f"{m.user.username} (now {m.get_role_display().lower()})"
        )
