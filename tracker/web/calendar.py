"""A regulation's dated milestones as an iCalendar feed (RFC 5545) that calendar apps subscribe to.

`/calendar/<regulation>.ics` takes the timeline's filters (`role`, `scope`, `category`, `q`;
a bad value is a 400 with a plain-text message) and lists one all-day VEVENT per date:

- a fixed milestone: its date in force, past or future, UID `<key>@<site host>`;
- a recurring milestone: its last past occurrence and its next `UPCOMING_OCCURRENCES`, each a
  VEVENT of its own, UID `<key>-<n>@<site host>` where n counts occurrences from the first one
  (so an amendment that moves the series keeps each occurrence's UID). The occurrences are the
  catalogue's own (`Milestone.occurrences`), not an RRULE: the catalogue adds months the way
  `relativedelta` does (31 January + 1 month = 28 February), which RRULE cannot express;
- a relative milestone (counted from an event a company records) has no date: not listed.

`SEQUENCE` is the number of amendments that moved the milestone's date, `LAST-MODIFIED` and
`DTSTAMP` its last change (RFC 5545 3.8.7.2: without METHOD, DTSTAMP is when the information
was last revised), so the body depends only on the catalogue and today's date: the public page
cache (`@public_page`) gives it an ETag and answers 304. A superseded or withdrawn milestone
stays in the feed as `STATUS:CANCELLED`, so subscribed calendars remove it. The editors' note
is never read.
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlsplit

from django.conf import settings
from django.db.models import Prefetch, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.views.decorators.http import require_safe
from icalendar import Calendar, Event, vDuration

from tracker.catalogue.filters import MilestoneFilter
from tracker.catalogue.models import LIVE_STATUSES, Amendment, Milestone, Regulation
from tracker.catalogue.selectors import UPCOMING_OCCURRENCES
from tracker.web.caching import public_page
from tracker.web.templatetags.jalon import precise_date

FEED_FILTERS = ("role", "scope", "category", "q")
PRODID = "-//Jalon//Regulatory deadlines//EN"
# How often a calendar app should fetch the feed again (the law moves slowly; 304s are cheap).
REFRESH = dt.timedelta(hours=12)
_CONFIRMED = {Milestone.Status.ADOPTED, Milestone.Status.IN_FORCE}
# The mean Gregorian month, in days: recovers an occurrence's number from its distance in days,
# whatever the month lengths and the end-of-month clamping (at most 3 days off).
_DAYS_PER_MONTH = 30.436875


def _site() -> tuple[str, str]:
    """The site's address and host: UIDs and links must not depend on how a request came in."""
    base = settings.SITE_URL.rstrip("/")
    return base, urlsplit(base).hostname or "localhost"


def calendar_queryset(*, regulation: Regulation) -> QuerySet[Milestone]:
    """The regulation's dated milestones with their amendments, in two queries."""
    return (
        Milestone.objects.filter(regulation=regulation, date__isnull=False)
        .exclude(kind=Milestone.Kind.RELATIVE)
        .defer("editor_note")
        .prefetch_related(
            Prefetch("amendments", queryset=Amendment.objects.order_by("recorded_at", "id"))
        )
    )


def _occurrences(milestone: Milestone, today: dt.date) -> list[tuple[str, dt.date]]:
    """(UID suffix, date) of each occurrence the feed lists for one milestone."""
    if milestone.kind != Milestone.Kind.RECURRING:
        return [("", milestone.date)]
    dates = milestone.occurrences(start=today, count=UPCOMING_OCCURRENCES)
    if (last := milestone.previous_date(today)) is not None:
        dates.insert(0, last)
    period = milestone.every_months * _DAYS_PER_MONTH
    return [(f"-{round((when - milestone.date).days / period)}", when) for when in dates]


def _description(milestone: Milestone, url: str) -> str:
    lines = [milestone.explainer or milestone.summary]
    if milestone.indicative:
        lines.append("The law fixes no day: this date is indicative.")
    elif milestone.date_precision != Milestone.Precision.DAY:
        lines.append(f"The law gives this date to the {milestone.date_precision} only.")
    if (amendment := milestone.latest_amendment) is not None:
        lines.append(f"Moved from {precise_date(amendment.old_date)} by {amendment.amending_act}.")
    lines.append(f"Status: {milestone.get_status_display()}.")
    lines.append(f"Legal basis: {milestone.legal_basis}.")
    lines.append(f"Details and sources: {url}")
    return "\n\n".join(line for line in lines if line)


def _events(milestone: Milestone, *, today: dt.date, base: str, host: str) -> list[Event]:
    url = base + milestone.get_absolute_url()
    changed = milestone.updated_at.astimezone(dt.UTC)
    status = (
        "CANCELLED"
        if milestone.status not in LIVE_STATUSES
        else "CONFIRMED"
        if milestone.status in _CONFIRMED
        else "TENTATIVE"
    )
    title = milestone.title
    if milestone.kind == Milestone.Kind.RECURRING:
        title = f"{title} (recurring)"
    events = []
    for suffix, when in _occurrences(milestone, today):
        event = Event()
        event.add("uid", f"{milestone.key}{suffix}@{host}")
        event.add("dtstamp", changed)
        event.add("last-modified", changed)
        event.add("sequence", len(milestone.amendments.all()))
        event.add("dtstart", when)
        event.add("dtend", when + dt.timedelta(days=1))
        event.add("summary", title)
        event.add("description", _description(milestone, url))
        event.add("url", url)
        event.add("status", status)
        event.add("transp", "TRANSPARENT")  # a deadline does not make anyone busy
        event.add("categories", [milestone.get_category_display()])
        events.append(event)
    return events


def calendar_build(
    *, regulation: Regulation, milestones: QuerySet[Milestone], today: dt.date, name: str
) -> Calendar:
    """The VCALENDAR of these milestones as seen on `today`."""
    base, host = _site()
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", name)
    calendar.add(
        "x-wr-caldesc",
        f"Dated milestones of {regulation.title}, from Jalon. Each event links to its "
        "legal basis and sources.",
    )
    calendar.add("refresh-interval", vDuration(REFRESH), parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", vDuration(REFRESH))
    for milestone in milestones:
        for event in _events(milestone, today=today, base=base, host=host):
            calendar.add_component(event)
    return calendar


def _name(regulation: Regulation, data: dict) -> str:
    """The calendar's name as an app lists it: the regulation, and the filters if any."""
    category = data.get("category")
    parts = [
        data["role"].name if data.get("role") else "",
        data["scope"].name if data.get("scope") else "",
        str(Milestone.Category(category).label) if category else "",
        f"“{data['q']}”" if data.get("q") else "",
    ]
    suffix = f" ({', '.join(part for part in parts if part)})" if any(parts) else ""
    return f"{regulation.short_name} deadlines{suffix} · Jalon"


@public_page
@require_safe
def regulation_calendar(request: HttpRequest, key: str) -> HttpResponse:
    """A regulation's dated milestones as an .ics feed, filtered like the timeline."""
    regulation = get_object_or_404(Regulation, key=key)
    params = {name: request.GET[name] for name in FEED_FILTERS if name in request.GET}
    filterset = MilestoneFilter(params, queryset=calendar_queryset(regulation=regulation))
    if not filterset.is_valid():
        lines = [
            f"{name}: {error}" for name, errors in filterset.form.errors.items() for error in errors
        ]
        return HttpResponse(
            "Some filters are not valid.\n" + "\n".join(lines) + "\n",
            status=400,
            content_type="text/plain; charset=utf-8",
        )
    calendar = calendar_build(
        regulation=regulation,
        milestones=filterset.qs,
        today=timezone.localdate(),
        name=_name(regulation, filterset.form.cleaned_data),
    )
    response = HttpResponse(calendar.to_ical(), content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'inline; filename="{regulation.key}.ics"'
    return response
