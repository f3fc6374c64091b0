"""A JSON list column that every form (the admin's included) and every `full_clean` hold to the
same rules: a list, not too long, without NUL characters (PostgreSQL's jsonb refuses them),
and empty means `[]`, never NULL. Each use adds validators for its items."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.db import models

MAX_ITEMS = 300


def _has_nul(value) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, list):
        return any(_has_nul(item) for item in value)
    if isinstance(value, dict):
        return any(_has_nul(key) or _has_nul(item) for key, item in value.items())
    return False


def validate_list(value) -> None:
    if not isinstance(value, list):
        raise ValidationError('Enter a list in brackets, such as ["a", "b"], or leave it empty.')
    if len(value) > MAX_ITEMS:
        raise ValidationError(f"At most {MAX_ITEMS} items.")
    if _has_nul(value):
        raise ValidationError("Remove the NUL character: it cannot be stored.")


def validate_strings(value) -> None:
    """A list of text items."""
    if isinstance(value, list) and not all(isinstance(item, str) for item in value):
        raise ValidationError('Each item is text in quotes, such as ["a", "b"].')


class ListFormField(forms.JSONField):
    """Empty is an empty list; anything else must be a list (with a message that says so)."""

    def to_python(self, value):
        value = super().to_python(value)
        return [] if value is None else value

    def validate(self, value) -> None:
        super().validate(value)
        validate_list(value)


class ListField(models.JSONField):
    default_validators = [validate_list]

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("default", list)
        super().__init__(*args, **kwargs)

    def formfield(self, **kwargs):
        return super().formfield(**{"form_class": ListFormField, **kwargs})
