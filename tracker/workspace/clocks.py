"""Incident reporting clocks (Art. 73), counted as EU law counts periods.

Regulation (EEC, Euratom) No 1182/71 on periods, dates and time limits: a period in days
starts the day after the event (Art. 3(1)), and one that would end on a Saturday or Sunday
ends at the end of the following working day (Art. 3(4)). Public holidays also extend a
period under that article; they differ by Member State and are not counted here.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

# Days to report, by kind of incident (Art. 73(2), (3) and (4)).
REPORT_WITHIN_DAYS = {"general": 15, "critical_infrastructure": 2, "widespread": 2, "death": 10}
SATURDAY = 5


def incident_deadline(*, kind: str, aware_at: dt.datetime, tz: str) -> dt.datetime:
    """The last instant to report: the end of the Nth local day after awareness, moved off
    a weekend to the end of the next Monday."""
    zone = ZoneInfo(tz)
    last_day = aware_at.astimezone(zone).date() + dt.timedelta(days=REPORT_WITHIN_DAYS[kind])
    if last_day.weekday() >= SATURDAY:
        last_day += dt.timedelta(days=7 - last_day.weekday())
    end_of_day = dt.datetime.combine(last_day, dt.time(23, 59, 59), zone)
    return end_of_day.astimezone(dt.UTC)


def hours_left(deadline: dt.datetime, now: dt.datetime) -> int:
    """Whole hours until the deadline (negative once it has passed)."""
    return int((deadline - now).total_seconds() // 3600)
