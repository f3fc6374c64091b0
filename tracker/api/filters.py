"""Filters of the API: the catalogue's milestone filter with its bounds, and the change list's."""

import datetime as dt

import django_filters
from django import forms
from django_filters.fields import IsoDateTimeField
from drf_spectacular.utils import extend_schema_field

from tracker.catalogue import filters as catalogue_filters
from tracker.catalogue.models import Milestone, MilestoneChange, Regulation

YEAR_MIN, YEAR_MAX = 1, 9999  # what a date can hold: outside, the year lookup cannot be built


@extend_schema_field({"type": "integer", "minimum": YEAR_MIN, "maximum": YEAR_MAX})
class YearFilter(django_filters.NumberFilter):
    """A whole year a date can hold; anything else is a 400 with a message, not a 500."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        message = f"Enter a year between {YEAR_MIN} and {YEAR_MAX}."
        kwargs.update(min_value=YEAR_MIN, max_value=YEAR_MAX)
        kwargs["error_messages"] = {"min_value": message, "max_value": message}
        super().__init__(*args, **kwargs)


class MilestoneFilter(catalogue_filters.MilestoneFilter):
    year = YearFilter(field_name="date", lookup_expr="year", label="Year")


class BoundedIsoDateTimeField(IsoDateTimeField):
    """An ISO 8601 date and time that can be compared with the database's (in UTC)."""

    def to_python(self, value):
        value = super().to_python(value)
        try:
            if value is not None:
                value.astimezone(dt.UTC)
        except OverflowError:
            raise forms.ValidationError(
                "Enter a date and time between the years 1 and 9999.", code="invalid"
            ) from None
        return value


class BoundedIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = BoundedIsoDateTimeField


class ChangeFilter(django_filters.FilterSet):
    regulation = django_filters.ModelChoiceFilter(
        field_name="milestone__regulation", to_field_name="key", queryset=Regulation.objects.all()
    )
    milestone = django_filters.ModelChoiceFilter(
        field_name="milestone", to_field_name="key", queryset=Milestone.objects.all()
    )
    since = BoundedIsoDateTimeFilter(
        field_name="recorded_at",
        lookup_expr="gte",
        label="Changes recorded at or after this ISO 8601 date and time",
        error_messages={
            "invalid": "Enter an ISO 8601 date and time, for example 2026-11-27T09:00:00Z."
        },
    )

    class Meta:
        model = MilestoneChange
        fields = ["regulation", "milestone", "since"]
