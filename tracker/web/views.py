import django_filters
from django import forms
from django.shortcuts import get_object_or_404, render
from django.utils import timezone

from tracker.catalogue import filters
from tracker.catalogue.selectors import (
    milestone_queryset,
    regulation_default,
    timeline_build,
)
from tracker.web.selectors import milestone_duties, milestone_page_queryset

TIMELINE_FILTERS = ("regulation", "role", "scope", "category")
YEAR_MIN, YEAR_MAX = 1, 9999  # what a date can hold: outside, the year lookup cannot be built


class YearFilter(django_filters.NumberFilter):
    field_class = forms.IntegerField


class MilestoneFilter(filters.MilestoneFilter):
    """The catalogue's filter set, with `?year=` bounded: a 400 with a message, not a 500."""

    year = YearFilter(
        field_name="date", lookup_expr="year", label="Year", min_value=YEAR_MIN,
        max_value=YEAR_MAX, error_messages={
            "min_value": f"Enter a year between {YEAR_MIN} and {YEAR_MAX}.",
            "max_value": f"Enter a year between {YEAR_MIN} and {YEAR_MAX}.",
        },
    )  # fmt: skip


def timeline(request):
    """The public timeline: every milestone of a regulation in date order, filterable."""
    params = request.GET.copy()
    if "regulation" not in params and (default := regulation_default()):
        params["regulation"] = default.key
    filterset = MilestoneFilter(params, queryset=milestone_queryset())
    valid = filterset.is_valid()
    today = timezone.localdate()
    context = {
        "filter_fields": [filterset.form[name] for name in TIMELINE_FILTERS],
        # Filters a link may carry (year, status, kind, amended) but the form does not show.
        "hidden_errors": [
            f"{field.label}: {error}" if (field := filterset.form.fields.get(name)) else error
            for name, errors in ({} if valid else filterset.form.errors).items()
            if name not in TIMELINE_FILTERS
            for error in errors
        ],
        "regulation": filterset.form.cleaned_data.get("regulation") if valid else None,
        "timeline": timeline_build(milestones=filterset.qs, today=today) if valid else None,
        "filtered": any(params.get(name) for name in TIMELINE_FILTERS[1:]),
        "today": today,
    }
    return render(request, "web/timeline.html", context, status=200 if valid else 400)


def milestone_detail(request, key):
    """One milestone's permalink page: dates, amendments, legal basis, source, the duties it
    brings and its change log."""
    milestone = get_object_or_404(milestone_page_queryset(), key=key)
    today = timezone.localdate()
    upcoming = milestone.occurrences(start=today, count=5)
    context = {
        "milestone": milestone,
        "duties": milestone_duties(milestone),
        "upcoming": upcoming,
        "days_left": (upcoming[0] - today).days if upcoming else None,
        "is_past": milestone.date is not None and not upcoming,
        "today": today,
    }
    return render(request, "web/milestone_detail.html", context)
