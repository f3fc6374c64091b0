"""Private calendar feeds: an organisation's (its tracked items and incident clocks) and a
person's (what they own, in every organisation they belong to, with alarms).

`/w/<slug>/calendar/<secret>.ics` and `/w/calendar/<secret>.ics` need no session (calendar
apps cannot sign in): the secret in the address is the key. It is shown once, when it is made,
and stored only as its SHA-256, looked up through a unique index: the database never holds a
usable address. An organisation's owner rotates or revokes the organisation's address; a
person alone makes, rotates or revokes their own. A wrong, rotated or revoked secret (or one of
another organisation) is a 404.

Each feed lists:
- each tracked item with a date, as an all-day event on its due date (the team's target date,
  else the milestone's next legal date), with its owner and legal basis; UID
  `item-<pk>@<site host>` in both feeds. SEQUENCE counts the amendments that moved its
  milestone plus the changes of its target date (or milestone) in the item's history;
  LAST-MODIFIED (and DTSTAMP: without METHOD, RFC 5545 3.8.7.2 makes it the last revision) is
  the later of the milestone's last change and the item's. An item whose milestone was
  withdrawn or superseded, that was marked not applicable, or that the rules no longer select,
  comes as `STATUS:CANCELLED` for `CANCELLED_KEEP` after its last change, then leaves; a done
  item leaves at once;
- each unreported incident whose reporting clock can be counted, as a timed event at its
  deadline in the zone where it occurred (with a VTIMEZONE); UID `incident-<pk>@<site host>`,
  SEQUENCE the number of edits in its history.

The person's feed adds one VALARM per lead time of their deadline reminders in that
organisation (none when they turned the reminders off); an incident gets those that fall after
the company became aware of it. The body depends only on the data and today's date, so its
hash is a strong ETag.

The module imports no other workspace module but the clocks and api_tokens (which models.py
imports first), so that models.py can import it for the models without an import cycle: the
person's lead times come in through `lead_days`, from calendar_urls.py.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.apps import apps
from django.conf import settings
from django.db import models
from django.db.models import Count, Max, OuterRef, Prefetch, Q, Subquery
from django.urls import reverse
from django.utils import timezone
from icalendar import Alarm, Calendar, Event, vDuration

from tracker.catalogue.models import LIVE_STATUSES, Amendment, Milestone
from tracker.workspace.api_tokens import secret_hash
from tracker.workspace.clocks import report_periods

__all__ = ["CalendarFeed", "PersonCalendarFeed"]  # what models.py may take from here

PRODID = "-//Jalon//Organisation deadlines//EN"
PERSON_PRODID = "-//Jalon//My deadlines//EN"
REFRESH = dt.timedelta(hours=6)
SECRET_BYTES = 32
# How long a withdrawn, not applicable or no longer selected item stays as STATUS:CANCELLED
# after its last change, so that a calendar that refreshes rarely still strikes it.
CANCELLED_KEEP = dt.timedelta(days=90)
_CONFIRMED = {Milestone.Status.ADOPTED, Milestone.Status.IN_FORCE}

# org id -> the person's lead times there (() when their reminders are off)
LeadDays = Callable[[Iterable[int]], Mapping[int, tuple[int, ...]]]


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


class PersonCalendarFeed(models.Model):
    """A person's private calendar address (what they own), kept as the hash of its secret."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="calendar_feed"
    )
    secret_hash = models.CharField(
        max_length=64, unique=True, help_text="SHA-256 of the secret in the address, in hex."
    )
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"Calendar feed of {self.user}"


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


def person_calendar_feed_rotate(*, user) -> str:
    """Give the person a new secret address for their own feed (the old one stops working);
    returns the secret, which is never stored."""
    secret = secrets.token_urlsafe(SECRET_BYTES)
    PersonCalendarFeed.objects.update_or_create(
        user=user, defaults={"secret_hash": secret_hash(secret), "created_at": timezone.now()}
    )
    return secret


def person_calendar_feed_revoke(*, user) -> bool:
    """Stop the person's own feed; False if they had none."""
    deleted, _ = PersonCalendarFeed.objects.filter(user=user).delete()
    return bool(deleted)


# Selectors -------------------------------------------------------------------------------


def calendar_feed_find(*, slug: str, secret: str) -> CalendarFeed | None:
    """The feed this address opens, with its organisation (one query), or None."""
    return (
        CalendarFeed.objects.select_related("organisation")
        .filter(organisation__slug=slug, secret_hash=secret_hash(secret))
        .first()
    )


def person_calendar_feed_find(*, secret: str) -> PersonCalendarFeed | None:
    """The person's feed this address opens, with the person (one query), or None."""
    return (
        PersonCalendarFeed.objects.select_related("user")
        .filter(secret_hash=secret_hash(secret), user__is_active=True)
        .first()
    )


def calendar_etag(body: bytes) -> str:
    """A strong ETag for a feed body (quoted, as HTTP wants it)."""
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


# The feeds -------------------------------------------------------------------------------


def _site() -> tuple[str, str]:
    base = settings.SITE_URL.rstrip("/")
    return base, urlsplit(base).hostname or "localhost"


def _person(user) -> str:
    if user is None:
        return "nobody yet"
    return user.get_full_name() or user.get_username()


def _utc(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC).replace(microsecond=0)


@dataclass(frozen=True)
class _Revisions:
    """What an item's history says: how often its date moved, and when it last changed."""

    moves: int = 0
    changed_at: dt.datetime | None = None


def _item_revisions(items: models.QuerySet) -> dict[int, _Revisions]:
    """Per item of `items`: the number of changes of its target date or milestone, and its
    last change, read from its history in one query."""
    history = apps.get_model("workspace", "HistoricalTrackedItem")
    rows = (
        history.objects.filter(id__in=items.order_by().values("pk"))
        .order_by("id", "history_date", "history_id")
        .values_list("id", "history_date", "target_date", "milestone_id")
    )
    found: dict[int, _Revisions] = {}
    previous: tuple | None = None
    for pk, when, target, milestone_id in rows:
        dates = (target, milestone_id)
        if previous is None or previous[0] != pk:
            found[pk] = _Revisions(0, when)
        else:
            moved = found[pk].moves + (dates != previous[1])
            found[pk] = _Revisions(moved, when)
        previous = (pk, dates)
    return found


def _items(queryset: models.QuerySet, *, now: dt.datetime) -> models.QuerySet:
    """The items a feed may show: open or not applicable, tracked or stopped lately (done
    items leave), with what the events read, in two queries (items, amendments)."""
    model = queryset.model
    shown = Q(applies=True) | Q(kept_at__isnull=False) | Q(stopped_at__gte=now - CANCELLED_KEEP)
    return (
        queryset.exclude(status=model.Status.DONE)
        .filter(shown)
        .select_related("organisation", "milestone", "obligation", "owner")
        .defer("obligation__text", "obligation__done_when", "obligation__note", "notes",
               "milestone__editor_note", "reasons")
        .prefetch_related(
            Prefetch("milestone__amendments", queryset=Amendment.objects.order_by("id"))
        )
        .order_by("pk")
    )  # fmt: skip


def _cancelled_because(item) -> str:
    """Why the item is no longer something to do ("" when it is)."""
    if item.milestone.status not in LIVE_STATUSES:
        return f"The milestone was {item.milestone.get_status_display().lower()}."
    if item.status == item.Status.NOT_APPLICABLE:
        return "The team marked it not applicable."
    if not item.is_tracked:
        return "It no longer applies" + (f": {item.stopped_reason}" if item.stopped_reason else ".")
    return ""


def _alarms(title: str, when: dt.date | dt.datetime, lead_days: Iterable[int]) -> list[Alarm]:
    alarms = []
    for days in sorted(set(lead_days), reverse=True):
        alarm = Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("trigger", -dt.timedelta(days=days))  # relative to DTSTART
        due = when.strftime("%d %B %Y") if not isinstance(when, dt.datetime) else (
            when.strftime("%d %B %Y, %H:%M %Z")
        )  # fmt: skip
        alarm.add("description", f"{title}: due in {days} day{'s' if days != 1 else ''} ({due})")
        alarms.append(alarm)
    return alarms


def _item_events(
    items: Iterable, *, revisions: Mapping[int, _Revisions], now: dt.datetime, base: str,
    host: str, lead_days: Mapping[int, tuple[int, ...]] | None = None, with_org: bool = False,
) -> list[Event]:  # fmt: skip
    today = timezone.localdate(now)
    events = []
    for item in items:
        milestone, organisation = item.milestone, item.organisation
        legal = milestone.next_date(today) or milestone.date
        when = item.target_date or legal
        if when is None:
            continue  # a relative milestone with no target date: nothing to put in a calendar
        revision = revisions.get(item.pk, _Revisions())
        changed = max(filter(None, [milestone.updated_at, revision.changed_at]))
        cancelled = _cancelled_because(item)
        if cancelled and changed < now - CANCELLED_KEEP:
            continue  # long enough as CANCELLED: calendars have struck it
        url = base + reverse("workspace:item", kwargs={"slug": organisation.slug, "pk": item.pk})
        lines = [
            cancelled,
            f"Organisation: {organisation.name}." if with_org else "",
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
        if with_org:
            title += f" · {organisation.name}"
        event = Event()
        event.add("uid", f"item-{item.pk}@{host}")
        event.add("dtstamp", _utc(changed))
        event.add("last-modified", _utc(changed))
        event.add("sequence", len(milestone.amendments.all()) + revision.moves)
        event.add("dtstart", when)
        event.add("dtend", when + dt.timedelta(days=1))
        event.add("summary", title)
        event.add("description", "\n\n".join(line for line in lines if line))
        event.add("url", url)
        event.add(
            "status",
            "CANCELLED" if cancelled else "CONFIRMED" if milestone.status in _CONFIRMED
            else "TENTATIVE",
        )  # fmt: skip
        event.add("transp", "TRANSPARENT")  # a deadline does not make anyone busy
        if lead_days is not None and not cancelled:
            for alarm in _alarms(title, when, lead_days.get(organisation.pk, ())):
                event.add_component(alarm)
        events.append(event)
    return events


def _incidents(queryset: models.QuerySet) -> models.QuerySet:
    """Unreported incidents with their last change and number of edits (one query)."""
    history = apps.get_model("workspace", "HistoricalIncident").objects.filter(id=OuterRef("pk"))
    return (
        queryset.filter(reported_at__isnull=True)
        .select_related("system", "owner", "organisation")
        .defer("description")
        .annotate(
            changed_at=Subquery(history.order_by().values("id").annotate(m=Max("history_date"))
                                .values("m")[:1]),
            edits=Subquery(history.order_by().values("id").annotate(n=Count("history_id"))
                           .values("n")[:1]),
        )
        .order_by("pk")
    )  # fmt: skip


def _incident_events(
    incidents: models.QuerySet, *, base: str, host: str,
    lead_days: Mapping[int, tuple[int, ...]] | None = None, with_org: bool = False,
) -> list[Event]:  # fmt: skip
    periods = report_periods()
    events = []
    for incident in incidents:
        clock = incident.clock(periods=periods)
        if clock.deadline is None:
            continue  # the period cannot be read: the incidents page says why
        organisation = incident.organisation
        url = base + reverse(
            "workspace:incident_edit", kwargs={"slug": organisation.slug, "pk": incident.pk}
        )
        changed = incident.changed_at or incident.aware_at
        title = f"Report the serious incident on {incident.system.name}"
        if with_org:
            title += f" · {organisation.name}"
        period = f" within {clock.period.text} of becoming aware" if clock.period else ""
        lines = [
            f"Organisation: {organisation.name}." if with_org else "",
            f"Reporting deadline: {clock.deadline_text} ({clock.zone}).",
            f"Owner: {_person(incident.owner)}.",
            f"Legal basis: Art. 73 ({incident.kinds_display}): report{period}.",
            f"Details: {url}",
        ]
        event = Event()
        event.add("uid", f"incident-{incident.pk}@{host}")
        event.add("dtstamp", _utc(changed))
        event.add("last-modified", _utc(changed))
        event.add("sequence", max((incident.edits or 1) - 1, 0))
        event.add("dtstart", clock.local_deadline)  # with TZID: the zone where it occurred
        event.add("summary", title)
        event.add("description", "\n\n".join(line for line in lines if line))
        event.add("url", url)
        event.add("status", "CONFIRMED")
        if lead_days is not None:
            # Only the lead times that fall after the company became aware of it.
            room = clock.deadline - incident.aware_at
            useful = [d for d in lead_days.get(organisation.pk, ()) if dt.timedelta(days=d) < room]
            for alarm in _alarms(title, clock.local_deadline, useful):
                event.add_component(alarm)
        events.append(event)
    return events


def _calendar(prodid: str, name: str) -> Calendar:
    calendar = Calendar()
    calendar.add("prodid", prodid)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", name)
    calendar.add("refresh-interval", vDuration(REFRESH), parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", vDuration(REFRESH))
    return calendar


def organisation_calendar_build(*, organisation, now: dt.datetime) -> Calendar:
    """The organisation's private VCALENDAR as seen at `now` (five queries: item
    history, items, amendments, clock periods, incidents)."""
    base, host = _site()
    calendar = _calendar(PRODID, f"{organisation.name} deadlines · Jalon")
    items = _items(organisation.items.all(), now=now)
    revisions = _item_revisions(items)
    for event in _item_events(items, revisions=revisions, now=now, base=base, host=host):
        calendar.add_component(event)
    incidents = _incidents(organisation.incidents.all())
    for event in _incident_events(incidents, base=base, host=host):
        calendar.add_component(event)
    calendar.add_missing_timezones()
    return calendar


def person_calendar_build(*, user, now: dt.datetime, lead_days: LeadDays) -> Calendar:
    """What `user` owns in every organisation they belong to, with alarms at their lead
    times, as seen at `now` (five queries and the one of `lead_days`, whatever the number of
    items and organisations)."""
    base, host = _site()
    calendar = _calendar(PERSON_PRODID, f"{_person(user)}: my deadlines · Jalon")
    item_model = apps.get_model("workspace", "TrackedItem")
    incident_model = apps.get_model("workspace", "Incident")
    # Only in organisations they still belong to: leaving one takes its items out.
    mine = Q(owner=user, organisation__memberships__user=user)
    items_qs = _items(item_model.objects.filter(mine), now=now)
    revisions = _item_revisions(items_qs)
    items = list(items_qs)
    incidents = list(_incidents(incident_model.objects.filter(mine)))
    organisations = {row.organisation_id for row in [*items, *incidents]}
    leads = lead_days(organisations) if organisations else {}
    events = _item_events(
        items, revisions=revisions, now=now, base=base, host=host, lead_days=leads,
        with_org=True,
    )  # fmt: skip
    events += _incident_events(incidents, base=base, host=host, lead_days=leads, with_org=True)
    for event in events:
        calendar.add_component(event)
    calendar.add_missing_timezones()
    return calendar
