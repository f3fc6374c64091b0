"""The evidence form: a file or a link, its title, expiry and owner, and the items it covers.

The checks are the services' (tracker/workspace/evidence.py): the form runs the same upload
check so that a refused file is reported next to its field, and the view hands the rest to
`evidence_create` / `evidence_update`, whose refusals come back onto the form's fields.
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, URLValidator

from tracker.workspace.evidence import (
    accept_attribute,
    accepted_words,
    cover_choices,
    evidence_file_check,
    size_words,
    too_large_message,
)
from tracker.workspace.models import (
    EVIDENCE_EXPIRY_MAX,
    EVIDENCE_EXPIRY_MESSAGE,
    EVIDENCE_EXPIRY_MIN,
    EVIDENCE_URL_MAX,
    Evidence,
)


class EvidenceForm(forms.Form):
    """Add a piece (`instance` None: a file or a link) or change one (its kind stays)."""

    kind = forms.ChoiceField(
        choices=[(Evidence.Kind.FILE, "Upload a file"), (Evidence.Kind.LINK, "Link to it")],
        widget=forms.RadioSelect, initial=Evidence.Kind.FILE, label="The evidence is",
    )  # fmt: skip
    file = forms.FileField(required=False, label="File")
    link = forms.URLField(
        required=False, max_length=EVIDENCE_URL_MAX, assume_scheme="https", label="Link",
        validators=[URLValidator(schemes=["http", "https"],
                                 message="Enter an http(s) link, such as https://…")],
        help_text="Where the document is kept, e.g. in your drive or wiki (http or https).",
    )  # fmt: skip
    title = forms.CharField(
        max_length=200, help_text="What it is, e.g. “Risk management plan v3 (signed)”."
    )
    expires_on = forms.DateField(
        required=False, label="Expires on", widget=forms.DateInput(attrs={"type": "date"}),
        validators=[MinValueValidator(EVIDENCE_EXPIRY_MIN, EVIDENCE_EXPIRY_MESSAGE),
                    MaxValueValidator(EVIDENCE_EXPIRY_MAX, EVIDENCE_EXPIRY_MESSAGE)],
        help_text="For evidence that lapses (a certificate, a yearly audit): its owner is "
        "reminded before, at their own reminder lead times.",
    )  # fmt: skip
    owner = forms.ModelChoiceField(
        queryset=None, required=False,
        empty_label="Nobody: the organisation's owners are reminded",
    )  # fmt: skip
    covers = forms.TypedMultipleChoiceField(
        coerce=int, required=True, widget=forms.CheckboxSelectMultiple,
        label="It covers",
        error_messages={
            "required": "Choose at least one item this evidence covers.",
            "invalid_choice": "Item %(value)s is not one of this organisation's tracked items: "
            "choose among those listed.",
        },
    )  # fmt: skip

    def __init__(self, *args, items, members, instance: Evidence | None = None,
                 too_large: str | None = None, **kwargs):  # fmt: skip
        super().__init__(*args, **kwargs)
        self.instance = instance
        self.too_large = too_large  # the name of a file the upload handler stopped, if any
        self.fields["covers"].choices = cover_choices(items)
        self.fields["owner"].queryset = members
        self.fields["owner"].label_from_instance = lambda user: user.get_username()
        self.fields["file"].help_text = (
            f"{accepted_words()}; at most {size_words(settings.EVIDENCE_MAX_BYTES)}. "
            "Only members of the organisation can download it."
        )
        self.fields["file"].widget.attrs["accept"] = accept_attribute()
        if instance is not None:
            del self.fields["kind"]
            if instance.is_file:
                del self.fields["link"]
                self.fields["file"].label = "Replace the file"
                self.fields["file"].help_text = (
                    f"Leave empty to keep “{instance.file_name}”. " + self.fields["file"].help_text
                )
            else:
                del self.fields["file"]
                self.fields["link"].required = True

    def cover_groups(self) -> list[tuple[str, list]]:
        """The "It covers" checkboxes, grouped as their choices are (by AI system)."""
        group_of = {
            str(value): label
            for label, options in self.fields["covers"].choices
            for value, _ in options
        }
        groups: dict[str, list] = {label: [] for label, _ in self.fields["covers"].choices}
        for box in self["covers"]:
            groups[group_of[str(box.data["value"])]].append(box)
        return list(groups.items())

    @property
    def chosen_kind(self) -> str:
        if self.instance is not None:
            return self.instance.kind
        return self.cleaned_data.get("kind") or Evidence.Kind.FILE

    def clean_file(self):
        upload = self.cleaned_data.get("file")
        if self.instance is None and self.cleaned_data.get("kind") == Evidence.Kind.LINK:
            return None  # a file chosen before switching to a link is ignored
        if self.too_large is not None:
            raise ValidationError(too_large_message(self.too_large))
        if upload:
            evidence_file_check(upload=upload)
        return upload

    def clean(self):
        data = super().clean()
        if self.instance is None and "kind" in data:
            if data["kind"] == Evidence.Kind.FILE:
                data["link"] = ""
                if not data.get("file") and "file" not in self.errors:
                    self.add_error("file", "Choose the file to upload.")
            else:
                data["file"] = None
                if not data.get("link") and "link" not in self.errors:
                    self.add_error("link", "Enter the link.")
        return data
