"""One filter set for the milestone list, shared by the public timeline and the API."""

import django_filters

from tracker.catalogue.models import Milestone, Regulation, Role, Scope


class MilestoneFilter(django_filters.FilterSet):
    regulation = django_filters.ModelChoiceFilter(
        field_name="regulation",
        to_field_name="key",
        queryset=Regulation.objects.all(),
        empty_label="All regulations",
    )
    role = django_filters.ModelChoiceFilter(
        field_name="roles",
        to_field_name="key",
        queryset=Role.objects.all(),
        label="Who it concerns",
        empty_label="Anyone",
    )
    scope = django_filters.ModelChoiceFilter(
        field_name="scopes",
        to_field_name="key",
        queryset=Scope.objects.all(),
        label="Risk scope",
        empty_label="Any scope",
    )
    category = django_filters.ChoiceFilter(
        choices=Milestone.Category.choices, empty_label="Any category"
    )
    status = django_filters.ChoiceFilter(choices=Milestone.Status.choices, empty_label="Any status")
    kind = django_filters.ChoiceFilter(choices=Milestone.Kind.choices, empty_label="Any kind")
    year = django_filters.NumberFilter(field_name="date", lookup_expr="year", label="Year")
    amended = django_filters.BooleanFilter(
        field_name="original_date", lookup_expr="isnull", exclude=True, label="Amended"
    )

    class Meta:
        model = Milestone
        fields = ["regulation", "role", "scope", "category", "status", "kind", "year", "amended"]
