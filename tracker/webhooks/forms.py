"""The endpoint forms: ModelForms, so the URL goes through the model field's validator
(network.validate_webhook_url), the one check the owner's form and the admin share."""

from django import forms

from tracker.webhooks.models import EVENT_TYPES, Endpoint


def _events_field() -> forms.MultipleChoiceField:
    return forms.MultipleChoiceField(
        choices=list(EVENT_TYPES.items()), widget=forms.CheckboxSelectMultiple, label="Events",
        error_messages={"required": "Choose at least one event."},
    )  # fmt: skip


class EndpointURLForm(forms.ModelForm):
    """What both forms show alike: the URL (checked by the model field) and the events."""

    url = forms.URLField(
        label="URL", max_length=500, assume_scheme="https",
        help_text="Where Jalon POSTs each event: a public https:// address. For Slack, an "
        "incoming-webhook URL; for Teams, a Workflows or incoming-webhook URL.",
    )  # fmt: skip
    events = _events_field()


EndpointAdminForm = EndpointURLForm  # the admin's, with its own list of fields


class EndpointForm(EndpointURLForm):
    """The owner's form."""

    class Meta:
        model = Endpoint
        fields = ["name", "url", "format", "events"]
        help_texts = {"name": "Yours, to tell endpoints apart: “#compliance channel”."}
        widgets = {"format": forms.RadioSelect}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.instance.pk and not self.is_bound:
            self.initial.setdefault("events", list(EVENT_TYPES))
