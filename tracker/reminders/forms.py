from django import forms

from tracker.catalogue.models import Milestone, Regulation, Role, Scope
from tracker.reminders.models import DEFAULT_LEAD_DAYS, Language
from tracker.reminders.subscriptions import Preferences
from tracker.reminders.validation import (
    choice_errors,
    parse_lead_days,
    timezones,
    validate_list_length,
    validate_timezone,
)

HOURS = [(h, f"{h:02d}:00") for h in range(24)]


class CappedChoices(forms.ModelMultipleChoiceField):
    """A multiple choice whose raw list is refused past MAX_CHOSEN before any lookup."""

    def clean(self, value):
        validate_list_length(value)
        return super().clean(value)


class CappedCategories(forms.MultipleChoiceField):
    def clean(self, value):
        validate_list_length(value)
        return super().clean(value)


class ReminderTimingForm(forms.Form):
    """When reminders arrive: lead times, time zone and local hour (subscribers and owners)."""

    lead_days = forms.CharField(
        initial=", ".join(map(str, DEFAULT_LEAD_DAYS)),
        label="Remind me this many days before",
        help_text="Whole days, separated by commas.",
    )
    timezone = forms.CharField(
        initial="Europe/Brussels",
        label="Time zone",
        help_text="Type a city or region, such as Paris or America/New_York, and pick a name.",
        widget=forms.TextInput(
            attrs={"list": "timezone-names", "autocomplete": "off", "spellcheck": "false"}
        ),
    )
    send_hour = forms.TypedChoiceField(
        choices=HOURS, coerce=int, initial=9, label="Local time reminders arrive"
    )

    def clean_lead_days(self):
        return parse_lead_days(self.cleaned_data["lead_days"])

    def clean_timezone(self):
        return validate_timezone(self.cleaned_data["timezone"].strip())

    @staticmethod
    def timezone_names() -> list[str]:
        """What the time zone box suggests as one types (a datalist): every zone name."""
        return sorted(timezones())


class PreferencesForm(ReminderTimingForm):
    """What to follow and how to be reminded: the subscribe and manage pages."""

    field_order = ["regulation", "roles", "scopes", "categories", "milestones", "lead_days",
                   "weekly_digest", "language", "timezone", "send_hour"]  # fmt: skip

    regulation = forms.ModelChoiceField(
        Regulation.objects.all(),
        to_field_name="key",
        required=False,
        empty_label="None: only the milestones chosen below",
        help_text="Follow a regulation, optionally narrowed by role, scope and category.",
    )
    roles = CappedChoices(
        Role.objects.all(), to_field_name="key", required=False,
        widget=forms.CheckboxSelectMultiple, label="Only for these roles",
    )  # fmt: skip
    scopes = CappedChoices(
        Scope.objects.all(), to_field_name="key", required=False,
        widget=forms.CheckboxSelectMultiple, label="Only for these risk scopes",
    )  # fmt: skip
    categories = CappedCategories(
        choices=Milestone.Category.choices, required=False,
        widget=forms.CheckboxSelectMultiple, label="Only these categories",
    )  # fmt: skip
    # Every milestone is looked up, so that a past or event-relative one gets the shared
    # validator's clear message; the page offers only those with a date ahead (the picker).
    milestones = CappedChoices(
        Milestone.objects.select_related("regulation"),
        to_field_name="key", required=False, label="Or these deadlines, one by one",
        widget=forms.CheckboxSelectMultiple,
    )  # fmt: skip
    weekly_digest = forms.BooleanField(
        required=False,
        label="One weekly digest instead of individual reminders",
        help_text="Every Monday, what falls due within your longest lead time.",
    )
    language = forms.ChoiceField(choices=Language.choices, initial=Language.EN)

    def __init__(self, *args, followed=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.followed = {m.pk for m in followed}  # already followed: allowed even if past

    def clean(self):
        data = super().clean()
        for field, error in choice_errors(data, keep=self.followed).items():
            self.add_error(field, error)
        if (
            not data.get("regulation")
            and not data.get("milestones")
            and "milestones" not in self.errors
        ):
            raise forms.ValidationError("Choose a regulation or at least one milestone to follow.")
        return data

    def preferences(self) -> Preferences:
        data = self.cleaned_data
        return Preferences(
            regulation=data["regulation"],
            roles=list(data["roles"]),
            scopes=list(data["scopes"]),
            categories=data["categories"],
            milestones=list(data["milestones"]),
            lead_days=data["lead_days"],
            language=data["language"],
            timezone=data["timezone"],
            send_hour=data["send_hour"],
            weekly_digest=data["weekly_digest"],
        )

    @classmethod
    def initial_for(cls, subscription) -> dict:
        return {
            "regulation": subscription.regulation,
            "roles": list(subscription.roles.all()),
            "scopes": list(subscription.scopes.all()),
            "categories": subscription.categories,
            "milestones": list(subscription.milestones.all()),
            "lead_days": ", ".join(map(str, subscription.lead_days)),
            "language": subscription.language,
            "timezone": subscription.timezone,
            "send_hour": subscription.send_hour,
            "weekly_digest": subscription.weekly_digest,
        }


class SubscribeForm(PreferencesForm):
    email = forms.EmailField(label="Email address")

    field_order = ["email", *PreferencesForm.field_order]
