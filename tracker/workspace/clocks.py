"""Incident reporting clocks (Art. 73 of Regulation (EU) 2024/1689), counted as EU law counts.

The periods are data: each kind of incident names a relative milestone of the catalogue, whose
`offset_days` is read when a clock is asked for. Where several kinds apply, the shortest period
wins. The report is due immediately (Art. 73(2)); the period is only the outer limit.

Regulation (EEC, Euratom) No 1182/71 on periods, dates and time limits, in the time zone and
with the public holidays of the place where the incident occurred (Art. 73(1); 1182/71
Art. 2(1)):

- a period in days starts the day after the event (Art. 3(1)) and ends at the expiry of the
  last hour of its last day (Art. 3(2)(b));
- a last day that is a public holiday, Saturday or Sunday moves to the end of the next working
  day (Art. 3(4));
- a period of two days or more includes at least two working days (Art. 3(5));
- a period in hours starts at the beginning of the hour after the event, runs by the hour and
  does not roll over (Art. 3(1), 3(2)(a)).

Public holidays come from the `holidays` package: national ones, and a region's own where the
package has the region as a subdivision. Holidays of mainland regions (German Länder, Spanish
communities other than the Canary Islands...) are not counted, so a deadline there can only be
earlier than the law's, never later.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import holidays
from django.conf import settings
from django.utils import dateformat

from tracker.catalogue.models import LIVE_STATUSES, Milestone

# Which catalogue milestone holds the reporting period of each kind of incident (Art. 73(2),
# (3) and (4), OJ numbering).
KIND_MILESTONES = {
    "general": "ai-act-serious-incident-report-15-days",
    "critical_infrastructure": "ai-act-serious-incident-critical-infrastructure-2-days",
    "widespread": "ai-act-widespread-infringement-2-days",
    "death": "ai-act-serious-incident-death-10-days",
}

SATURDAY = 5
LAST_SECOND = dt.time(23, 59, 59)


@dataclass(frozen=True)
class Place:
    """Where an incident occurred, as the clock needs it: a time zone and a holiday calendar."""

    zone: str
    country: str  # ISO 3166-1 code of the Member State, as the `holidays` package spells it
    subdivision: str | None = None  # the package's code for the region's own holidays


# Every Member State (ISO 3166-1; Greece is GR, not EL) and every region of one that keeps
# another time than its capital. Incident.MemberState and Incident.Region list the same codes.
PLACES = {
    "AT": Place("Europe/Vienna", "AT"),
    "BE": Place("Europe/Brussels", "BE"),
    "BG": Place("Europe/Sofia", "BG"),
    "CY": Place("Asia/Nicosia", "CY"),
    "CZ": Place("Europe/Prague", "CZ"),
    "DE": Place("Europe/Berlin", "DE"),
    "DK": Place("Europe/Copenhagen", "DK"),
    "EE": Place("Europe/Tallinn", "EE"),
    "ES": Place("Europe/Madrid", "ES"),
    "FI": Place("Europe/Helsinki", "FI"),
    "FR": Place("Europe/Paris", "FR"),
    "GR": Place("Europe/Athens", "GR"),
    "HR": Place("Europe/Zagreb", "HR"),
    "HU": Place("Europe/Budapest", "HU"),
    "IE": Place("Europe/Dublin", "IE"),
    "IT": Place("Europe/Rome", "IT"),
    "LT": Place("Europe/Vilnius", "LT"),
    "LU": Place("Europe/Luxembourg", "LU"),
    "LV": Place("Europe/Riga", "LV"),
    "MT": Place("Europe/Malta", "MT"),
    "NL": Place("Europe/Amsterdam", "NL"),
    "PL": Place("Europe/Warsaw", "PL"),
    "PT": Place("Europe/Lisbon", "PT"),
    "RO": Place("Europe/Bucharest", "RO"),
    "SE": Place("Europe/Stockholm", "SE"),
    "SI": Place("Europe/Ljubljana", "SI"),
    "SK": Place("Europe/Bratislava", "SK"),
    # Regions (ISO 3166-2 codes; France's overseas departments by their number).
    "ES-CN": Place("Atlantic/Canary", "ES", "CN"),
    "FR-971": Place("America/Guadeloupe", "FR", "971"),
    "FR-972": Place("America/Martinique", "FR", "972"),
    "FR-973": Place("America/Cayenne", "FR", "973"),
    "FR-974": Place("Indian/Reunion", "FR", "974"),
    "FR-976": Place("Indian/Mayotte", "FR", "976"),
    "FR-MF": Place("America/Marigot", "FR", "MF"),
    "PT-20": Place("Atlantic/Azores", "PT", "20"),
    "PT-30": Place("Atlantic/Madeira", "PT", "30"),
}


def place_of(*, member_state: str, region: str = "") -> Place | None:
    """The place an incident occurred, or None when its Member State is not recorded."""
    return PLACES.get(region or member_state) if member_state else None


def zone_of(*, member_state: str, region: str = "") -> str:
    """The time zone an incident's clock runs in: its place's, else the server's."""
    place = place_of(member_state=member_state, region=region)
    return place.zone if place else settings.TIME_ZONE


@dataclass(frozen=True)
class Period:
    """A kind's reporting period as the catalogue has it now, or why it has none."""

    kind: str
    milestone_key: str
    days: int | None = None
    hours: int | None = None  # a period counted by the hour (none of Art. 73's, today)
    problem: str = ""

    @property
    def known(self) -> bool:
        return self.days is not None or self.hours is not None

    @property
    def text(self) -> str:
        """“15 days”, “48 hours”."""
        if self.hours is not None:
            return f"{self.hours} hours"
        return f"{self.days} days" if self.days is not None else ""


def report_periods() -> dict[str, Period]:
    """The reporting period of every kind, read from the catalogue now (one query).

    A missing, withdrawn or superseded milestone, or one without an offset, gives a period
    that is not known and a problem that says why: the clock then says so instead of guessing.
    """
    found = Milestone.objects.in_bulk(list(KIND_MILESTONES.values()), field_name="key")
    periods = {}
    for kind, key in KIND_MILESTONES.items():
        milestone, problem = found.get(key), ""
        # Catalogues without periods in hours (before catalogue migration 0006) have no field.
        hours = getattr(milestone, "offset_hours", None)
        if milestone is None:
            problem = f"the catalogue has no milestone “{key}”"
        elif milestone.status not in LIVE_STATUSES:
            problem = (
                f"the catalogue's milestone “{key}” is {milestone.get_status_display().lower()}"
            )
        elif milestone.kind != Milestone.Kind.RELATIVE or not (milestone.offset_days or hours):
            problem = f"the catalogue's milestone “{key}” has no period"
        if problem:
            periods[kind] = Period(kind=kind, milestone_key=key, problem=problem)
        elif hours:
            periods[kind] = Period(kind=kind, milestone_key=key, hours=hours)
        else:
            periods[kind] = Period(kind=kind, milestone_key=key, days=milestone.offset_days)
    return periods


@functools.lru_cache(maxsize=1024)
def _public_holidays(country: str, subdivision: str | None, year: int) -> frozenset[dt.date]:
    return frozenset(holidays.country_holidays(country, subdiv=subdivision, years=year))


def public_holiday_test(place: Place | None) -> Callable[[dt.date], bool]:
    """Whether a day is a public holiday where the incident occurred (none if unknown)."""
    if place is None:
        return lambda day: False
    return lambda day: day in _public_holidays(place.country, place.subdivision, day.year)


def period_in_days_end(
    *, event: dt.datetime, days: int, zone: ZoneInfo, is_holiday: Callable[[dt.date], bool]
) -> dt.datetime:
    """The last instant of a period of `days` days from `event`, in UTC (1182/71 Art. 3)."""

    def working(day: dt.date) -> bool:
        return day.weekday() < SATURDAY and not is_holiday(day)

    first = event.astimezone(zone).date() + dt.timedelta(days=1)  # Art. 3(1)
    last = first + dt.timedelta(days=days - 1)  # Art. 3(2)(b)
    while not working(last):  # Art. 3(4)
        last += dt.timedelta(days=1)
    if days >= 2:  # Art. 3(5)
        working_days = sum(
            working(first + dt.timedelta(days=n)) for n in range((last - first).days + 1)
        )
        while working_days < 2:
            last += dt.timedelta(days=1)
            working_days += working(last)
    return dt.datetime.combine(last, LAST_SECOND, zone).astimezone(dt.UTC)


def period_in_hours_end(*, event: dt.datetime, hours: int, zone: ZoneInfo) -> dt.datetime:
    """The last instant of a period of `hours` hours from `event`, in UTC: it starts at the
    beginning of the next hour and runs by the clock, weekends and holidays included."""
    local = event.astimezone(zone)
    start = local.replace(minute=0, second=0, microsecond=0).astimezone(dt.UTC)
    return start + dt.timedelta(hours=hours + 1) - dt.timedelta(seconds=1)


@dataclass(frozen=True)
class Clock:
    """An incident's reporting deadline and how it was counted."""

    deadline: dt.datetime | None  # UTC; None when a period could not be read
    zone: str
    place: str  # the place's name, or "" when the Member State is not recorded
    period: Period | None = None  # the period that ends first
    problems: tuple[str, ...] = field(default=())

    @property
    def local_deadline(self) -> dt.datetime | None:
        return self.deadline.astimezone(ZoneInfo(self.zone)) if self.deadline else None

    @property
    def deadline_text(self) -> str:
        """“Thursday 19 March 2026, 23:59:59” in the place's own time."""
        local = self.local_deadline
        return dateformat.format(local, "l j F Y, H:i:s") if local else ""

    @property
    def short_deadline_text(self) -> str:
        local = self.local_deadline
        return dateformat.format(local, "j F, H:i") if local else ""

    @property
    def zone_text(self) -> str:
        """“Finland time (Europe/Helsinki, UTC+02:00)”: whose clock, which zone, which offset."""
        local = self.local_deadline or dt.datetime.now(ZoneInfo(self.zone))
        offset = dateformat.format(local, "O")
        utc = f"UTC{offset[:3]}:{offset[3:]}"
        return (
            f"{self.place} time ({self.zone}, {utc})" if self.place else f"{self.zone} time ({utc})"
        )

    @property
    def short_zone_text(self) -> str:
        return f"{self.place} time" if self.place else f"{self.zone} time"

    def hours_left(self, now: dt.datetime) -> int | None:
        return hours_left(self.deadline, now) if self.deadline else None


def incident_deadline(
    *, kinds: Iterable[str], aware_at: dt.datetime, member_state: str = "", region: str = "",
    place_name: str = "", periods: dict[str, Period] | None = None,
) -> Clock:  # fmt: skip
    """The reporting clock of an incident: the shortest period of its kinds, counted from the
    moment of awareness where it occurred.

    Without a Member State the period is counted in settings.TIME_ZONE with no public holidays
    (Clock.place is then empty, and the page says so). `periods` lets a caller that counts many
    incidents read the catalogue once.
    """
    periods = report_periods() if periods is None else periods
    place = place_of(member_state=member_state, region=region)
    zone_name = zone_of(member_state=member_state, region=region)
    name = (place_name or region or member_state) if place else ""
    kinds = list(kinds)
    if not kinds:
        return Clock(deadline=None, zone=zone_name, place=name, problems=("no kind is recorded",))
    problems = tuple(
        f"“{kind}” is not a kind of incident" if kind not in periods else periods[kind].problem
        for kind in kinds
        if kind not in periods or not periods[kind].known
    )
    if problems:
        # A period that cannot be read might be the shortest: no deadline beats a late guess.
        return Clock(deadline=None, zone=zone_name, place=name, problems=problems)
    zone, is_holiday = ZoneInfo(zone_name), public_holiday_test(place)
    ends = []
    for kind in kinds:
        period = periods[kind]
        if period.hours is not None:
            end = period_in_hours_end(event=aware_at, hours=period.hours, zone=zone)
        else:
            end = period_in_days_end(
                event=aware_at, days=period.days, zone=zone, is_holiday=is_holiday
            )
        ends.append((end, period))
    deadline, period = min(ends, key=lambda end: end[0])  # the shortest clock wins
    return Clock(deadline=deadline, zone=zone_name, place=name, period=period)


def hours_left(deadline: dt.datetime, now: dt.datetime) -> int:
    """Whole hours until the deadline (negative once it has passed)."""
    return int((deadline - now).total_seconds() // 3600)
