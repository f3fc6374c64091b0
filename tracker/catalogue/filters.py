"""One filter set for the milestone list, shared by the public timeline and the API.

- `q`: words of a milestone's title, summary, "what this means" text or legal basis; every word
  must be found (in any of those fields), case-insensitively. At most `SEARCH_MAX_LENGTH`
  characters and `SEARCH_MAX_WORDS` words; more is a 400 with a message.
- `role`: the milestones that concern that role, and those that bind every operator (the
  pack's role `EVERY_OPERATOR_ROLE`); `scope`: the milestones of that risk scope, and those
  that concern every AI system (the scope `ALL_SYSTEMS_SCOPE`). A provider of a high-risk
  system is bound by AI literacy and penalties too; the timeline marks such entries.
"""

from functools import reduce
from operator import and_

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q

from tracker.catalogue.models import (
    Milestone,
    Regulation,
    Role,
    Scope,
)
from tracker.catalogue.selectors import milestones_of_roles, milestones_of_scopes

SEARCH_MAX_LENGTH = 100
SEARCH_MAX_WORDS = 8
SEARCH_FIELDS = ("title", "summary", "explainer", "legal_basis")


def search_words(value: str) -> list[str]:
    """The words of a search, without duplicates, in the order typed."""
    return list(dict.fromkeys(value.split()))


def validate_search(value: str) -> None:
    if len(search_words(value)) > SEARCH_MAX_WORDS:
        raise ValidationError(f"Search with at most {SEARCH_MAX_WORDS} words.", code="too_many")


class SearchFilter(django_filters.CharFilter):
    """Words to find in a milestone's text: each word in one of `SEARCH_FIELDS`."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label", "Search")
        kwargs.setdefault(
            "widget",
            forms.TextInput(attrs={"type": "search", "maxlength": SEARCH_MAX_LENGTH}),
        )
        kwargs.setdefault("max_length", SEARCH_MAX_LENGTH)
        kwargs.setdefault("validators", [validate_search])
        kwargs.setdefault(
            "error_messages",
            {"max_length": f"Search with at most {SEARCH_MAX_LENGTH} characters."},
        )
        super().__init__(*args, **kwargs)

    def filter(self, qs, value):
        words = search_words(value or "")
        if not words:
            return qs
        one_word = [
            reduce(lambda a, b: a | b, (Q(**{f"{name}__icontains": w}) for name in SEARCH_FIELDS))
            for w in words
        ]
        return qs.filter(reduce(and_, one_word))


class RoleFilter(django_filters.ModelChoiceFilter):
    """The milestones of a role, and those that bind every operator."""

    def filter(self, qs, value):
        if not value:
            return qs
        return milestones_of_roles(qs, [value.pk])


class ScopeFilter(django_filters.ModelChoiceFilter):
    """The milestones of a risk scope, and those that concern every AI system."""

    def filter(self, qs, value):
        if not value:
            return qs
        return milestones_of_scopes(qs, [value.pk])


class MilestoneFilter(django_filters.FilterSet):
    q = SearchFilter(
        help_text="Words of a title, summary or legal basis, e.g. “literacy” or “Art. 50”."
    )
    regulation = django_filters.ModelChoiceFilter(
        field_name="regulation",
        to_field_name="key",
        queryset=Regulation.objects.all(),
        empty_label="All regulations",
    )
    role = RoleFilter(
        field_name="roles",
        to_field_name="key",
        queryset=Role.objects.all(),
        label="Who it concerns",
        empty_label="Anyone",
        help_text="Includes what binds every operator.",
    )
    scope = ScopeFilter(
        field_name="scopes",
        to_field_name="key",
        queryset=Scope.objects.all(),
        label="Risk scope",
        empty_label="Any scope",
        help_text="Includes what concerns every AI system.",
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
        fields = [
            "q", "regulation", "role", "scope", "category", "status", "kind", "year", "amended",
        ]  # fmt: skip
