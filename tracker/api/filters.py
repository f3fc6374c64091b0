"""Filters for the catalogue-wide change list."""

import django_filters

from tracker.catalogue.models import Milestone, MilestoneChange, Regulation


class ChangeFilter(django_filters.FilterSet):
    regulation = django_filters.ModelChoiceFilter(
        field_name="milestone__regulation", to_field_name="key", queryset=Regulation.objects.all()
    )
    milestone = django_filters.ModelChoiceFilter(
        field_name="milestone", to_field_name="key", queryset=Milestone.objects.all()
    )
    since = django_filters.IsoDateTimeFilter(
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
