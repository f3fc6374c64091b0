"""An organisation's private calendar feed: its open tracked items and its incident clocks.

`/w/<slug>/calendar/<secret>.ics` needs no session (calendar apps cannot sign in): the secret
in the address is the key. It is shown once, when an owner makes it, and stored only as its
SHA-256, looked up through a unique index: the database never holds a usable address. An
owner rotates it (a new secret; the old address stops working at once) or revokes it (no
address works). A wrong, rotated or revoked secret, or one of another organisation, is a 404.

The feed lists:
- each open tracked item with a date, as an all-day event on its due date (the team's target
  date, else the milestone's next legal date), with its owner and legal basis; UID
  `item-<pk>@<site host>`, SEQUENCE the number of amendments that moved its milestone;
- each unreported incident whose reporting clock can be counted, as a timed event at its
  deadline in the zone where it occurred (with a VTIMEZONE); UID `incident-<pk>@<site host>`.

The module imports no other workspace module but the clocks (which models.py imports too),
so that models.py can import it for the model without an import cycle.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from urllib.parse import urlsplit

from django.conf import settings
from django.db import models
from django.db.models import Prefetch
from django.urls import reverse
from django.utils import timezone
from icalendar import Calendar, Event, vDuration

from tracker.catalogue.models import Amendment
from tracker.workspace.clocks import report_periods

__all__ = ["CalendarFeed"]  # what models.py may take from here

PRODID = "-//Jalon//Organisation deadlines//EN"
REFRESH = dt.timedelta(hours=6)
SECRET_BYTES = 32


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class CalendarFeed(models.Model):
    """An organisation's private calendar address, kept as the hash of its secret."""

    organisation = models.OneToOneField(
        "workspace.Organisation", on_delete=models.CASCADE, related_name="calendar_feed"
    )
    secret_hash = models.CharField(
        max_length=64, unique=True, help_text="SHA-256 of the secret in the address, in hex."
    )
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )  # fmt: skip

    def __str__(self) -> str:
        return f"Calendar feed of {self.organisation}"


# Services --------------------------------------------------------------------------------


def calendar_feed_rotate(*, organisation, by) -> str:
    """Give the organisation a new secret address (the old one stops working); returns the
    secret, which is never stored."""
    secret = secrets.token_urlsafe(SECRET_BYTES)
    CalendarFeed.objects.update_or_create(
        organisation=organisation,
        defaults={"secret_hash": secret_hash(secret), "created_at": timezone.now(),
                  "created_by": by},
    )  # fmt: skip
    return secret


def calendar_feed_revoke(*, organisation) -> bool:
    """Stop every address of the organisation's feed; False if it had none."""
    deleted, _ = CalendarFeed.objects.filter(organisation=organisation).delete()
    return bool(deleted)


# Selectors -------------------------------------------------------------------------------


def calendar_feed_find(*, slug: str, secret: str) -> CalendarFeed | None:
    """The feed this address opens, with its organisation (one query), or None."""
    return (
        CalendarFeed.objects.select_related("organisation")
        .filter(organisation__slug=slug, secret_hash=secret_hash(secret))
        .first()
    )


def _site() -> tuple[str, str]:
    base = settings.SITE_URL.rstrip("/")
    return base, urlsplit(base).hostname or "localhost"


def _person(user) -> str:
    if user is None:
        return "nobody yet"
    return user.get_full_name() or user.get_username()


def _item_events(organisation, *, today: dt.date, base: str, host: str) -> list[Event]:
    items = (
        organisation.items.tracked()
        .open()
        .select_related("milestone", "obligation", "owner")
        .defer("obligation__text", "obligation__done_when", "obligation__note", "notes")
        .prefetch_related(
            Prefetch("milestone__amendments", queryset=Amendment.objects.order_by("id"))
        )
        .order_by("pk")
    )
    events = []
    for item in items:
        milestone = item.milestone
        legal = milestone.next_date(today) or milestone.date
        when = item.target_date or legal
        if when is None:
            continue  # a relative milestone with no target date: nothing to put in a calendar
        url = base + reverse("workspace:item", kwargs={"slug": organisation.slug, "pk": item.pk})
        lines = [
            f"Owner: {_person(item.owner)}.",
            f"Target date set by the team: {item.target_date:%d %B %Y}."
            if item.target_date
            else "No target date set: this is the legal date.",
            f"Legal date: {legal:%d %B %Y}." if legal else "",
            f"Legal basis: {item.article}.",
            f"Status: {item.get_status_display()}.",
            f"Details: {url}",
        ]
        title = item.title + (f" ({item.system_name})" if item.system_name else "")
        event = Event()
        event.add("uid", f"item-{item.pk}@{host}")
        event.add("dtstamp", timezone.now())
        event.add("last-modified", milestone.updated_at.astimezone(dt.UTC))
        event.add("sequence", len(milestone.amendments.all()))
        event.add("dtstart", when)
        event.add("dtend", when + dt.timedelta(days=1))
        event.add("summary", title)
        event.add("description", "\n\n".join(line for line in lines if line))
        event.add("url", url)
        event.add("transp", "TRANSPARENT")
        events.append(event)
    return events


def _incident_events(organisation, *, base: str, host: str) -> list[Event]:
    periods = report_periods()
    incidents = (
        organisation.incidents.filter(reported_at__isnull=True)
        .select_related("system", "owner")
        .order_by("pk")
    )
    events = []
    for incident in incidents:
        clock = incident.clock(periods=periods)
        if clock.deadline is None:
            continue  # the period cannot be read: the incidents page says why
        url = base + reverse(
            "workspace:incident_edit", kwargs={"slug": organisation.slug, "pk": incident.pk}
        )
        event = Event()
        event.add("uid", f"incident-{incident.pk}@{host}")
        event.add("dtstamp", timezone.now())
        event.add("dtstart", clock.local_deadline)  # with TZID: the zone where it occurred
        event.add("summary", f"Report the serious incident on {incident.system.name}")
        event.add(
            "description",
            f"Reporting deadline: {clock.deadline_text} ({clock.zone}).\n\n"
            f"Owner: {_person(incident.owner)}.\n\nDetails: {url}",
        )
        event.add("url", url)
        events.append(event)
    return events


def organisation_calendar_build(*, organisation, now: dt.datetime) -> Calendar:
    """The organisation's private VCALENDAR as seen at `now` (five queries)."""
    base, host = _site()
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", f"{organisation.name} deadlines · Jalon")
    calendar.add("refresh-interval", vDuration(REFRESH), parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", vDuration(REFRESH))
    today = timezone.localdate(now)
    for event in _item_events(organisation, today=today, base=base, host=host):
        calendar.add_component(event)
    for event in _incident_events(organisation, base=base, host=host):
        calendar.add_component(event)
    calendar.add_missing_timezones()
    return calendar
