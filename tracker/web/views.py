import django_filters
from django import forms
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone

from tracker.catalogue import filters
from tracker.catalogue.selectors import (
    milestone_queryset,
    regulation_default,
    timeline_build,
)
from tracker.web.caching import public_page
from tracker.web.selectors import milestone_duties, milestone_page_queryset

TIMELINE_FILTERS = ("q", "regulation", "role", "scope", "category")
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


def _timeline_url(params, **changes) -> str:
    """The timeline's address with these parameters, some changed (None drops one)."""
    query = params.copy()
    for name, value in changes.items():
        query.pop(name, None)
        if value is not None:
            query[name] = value
    encoded = query.urlencode()
    return reverse("web:timeline") + (f"?{encoded}" if encoded else "")


@public_page
def timeline(request):
    """The public timeline: what is coming first (the past one click away), searchable and
    filterable; `?past=1` unfolds the past."""
    params = request.GET.copy()
    if "regulation" not in params and (default := regulation_default()):
        params["regulation"] = default.key
    filterset = MilestoneFilter(params, queryset=milestone_queryset())
    valid = filterset.is_valid()
    today = timezone.localdate()
    show_past = params.get("past") == "1"
    data = filterset.form.cleaned_data if valid else {}
    context = {
        "filter_fields": [filterset.form[name] for name in TIMELINE_FILTERS],
        # Filters a link may carry (year, status, kind, amended) but the form does not show.
        "hidden_errors": [
            f"{field.label}: {error}" if (field := filterset.form.fields.get(name)) else error
            for name, errors in ({} if valid else filterset.form.errors).items()
            if name not in TIMELINE_FILTERS
            for error in errors
        ],
        "regulation": data.get("regulation"),
        "role": data.get("role"),
        "scope": data.get("scope"),
        "search": data.get("q") or "",
        "timeline": timeline_build(milestones=filterset.qs, today=today) if valid else None,
        "filtered": any(params.get(name) for name in TIMELINE_FILTERS if name != "regulation"),
        "filters_active": any(params.get(name) for name in ("role", "scope", "category")),
        "clear_search_url": _timeline_url(params, q=None, past=None),
        "show_past": show_past,
        "past_url": _timeline_url(params, past="1") + "#past",
        "hide_past_url": _timeline_url(params, past=None),
        "today": today,
    }
    return render(request, "web/timeline.html", context, status=200 if valid else 400)


@public_page
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
        "last_date": milestone.previous_date(today),
        "today": today,
    }
    return render(request, "web/milestone_detail.html", context)
