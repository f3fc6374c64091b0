"""The form to record a serious incident, and to correct one."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from tracker.workspace.clocks import Period, zone_of
from tracker.workspace.models import Incident


def _region_choices() -> list:
    """Regions grouped under their Member State, for a <select> with <optgroup>s."""
    states = dict(Incident.MemberState.choices)
    groups: dict[str, list] = {}
    for code, label in Incident.Region.choices:
        groups.setdefault(states[code.split("-")[0]], []).append((code, label))
    return [("", "— none (the Member State's own time) —"), *groups.items()]


class WallClockField(forms.DateTimeField):
    """A date and time as read on a wall clock: naive, for the form to place in a zone."""

    def to_python(self, value):
        with timezone.override(dt.UTC):  # UTC has no gaps or repeats to refuse
            value = super().to_python(value)
        return value.replace(tzinfo=None) if value is not None else None


class IncidentForm(forms.ModelForm):
    """Record an incident: what happened, where, and when the company became aware of it.

    The awareness time is read in the local time of the place where the incident occurred.
    """

    kinds = forms.MultipleChoiceField(
        choices=Incident.Kind.choices, required=False,  # the model says what is missing
        widget=forms.CheckboxSelectMultiple, label="What happened (tick all that apply)",
        help_text="Where several apply, the shortest period counts.",
    )  # fmt: skip
    aware_at = WallClockField(
        label="Became aware at (local time where it occurred)",
        help_text="Read in the time of the Member State, or region, chosen above.",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )

    class Meta:
        model = Incident
        fields = ["system", "member_state", "region", "kinds", "aware_at", "description", "owner"]
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}
        labels = {"region": "Region (where the Member State spans time zones)", "owner": "Owner"}
        help_texts = {
            "owner": "Emailed now and every day until it is reported, with the organisation's "
            "owners."
        }

    def __init__(
        self, *args, organisation, members, periods: dict[str, Period], recorded_by=None, **kwargs
    ):
        super().__init__(*args, **kwargs)
        if "system" in self.fields:
            self.fields["system"].queryset = organisation.systems.all()
        owner = self.fields["owner"]
        owner.queryset = members
        owner.required = False  # the model says what is missing (Incident.clean)
        owner.empty_label = "— choose an owner —"
        if recorded_by is not None and not self.instance.pk and not self.is_bound:
            self.initial["owner"] = recorded_by.pk  # whoever records it, unless they choose
        self.fields["member_state"].required = True
        self.fields["region"].choices = _region_choices()
        self.fields["kinds"].choices = [
            (kind, f"{label}: {_period_text(periods[kind])}")
            for kind, label in Incident.Kind.choices
        ]
        if self.instance.pk and not self.is_bound:
            zone = zone_of(member_state=self.instance.member_state, region=self.instance.region)
            self.initial["aware_at"] = timezone.make_naive(self.instance.aware_at, ZoneInfo(zone))

    def clean(self):
        data = super().clean()
        if data.get("aware_at") is not None:
            # The wall-clock time is read where the incident occurred (server's zone if unknown).
            zone = zone_of(member_state=data.get("member_state", ""), region=data.get("region", ""))
            data["aware_at"] = timezone.make_aware(data["aware_at"], ZoneInfo(zone))
        return data

    def _update_errors(self, errors):
        # The model's rules (Incident.clean: awareness time, owner, kinds) give the messages;
        # a field the form itself already refused (an unreadable time, a choice not offered)
        # keeps its one message instead of gaining a second about the value it never read.
        if hasattr(errors, "error_dict"):
            kept = {f: m for f, m in errors.error_dict.items() if f not in self.errors}
            if not kept:
                return
            errors = ValidationError(kept)
        super()._update_errors(errors)


class IncidentEditForm(IncidentForm):
    """Correct an incident: everything but the system it happened on."""

    class Meta(IncidentForm.Meta):
        fields = ["member_state", "region", "kinds", "aware_at", "description", "owner"]


def _period_text(period: Period) -> str:
    return f"{period.text} at the latest" if period.known else f"no period ({period.problem})"
