"""Art. 73 reporting clocks, counted as Regulation 1182/71 counts periods."""

import datetime as dt

import pytest

from tracker.workspace.clocks import incident_deadline

BRUSSELS = "Europe/Brussels"


def local(*args) -> dt.datetime:
    from zoneinfo import ZoneInfo

    return dt.datetime(*args, tzinfo=ZoneInfo(BRUSSELS))


@pytest.mark.parametrize(
    ("kind", "aware", "deadline"),
    [
        # Wednesday 4 March 2026 + 15 days = Thursday 19 March, end of day.
        ("general", local(2026, 3, 4, 10), local(2026, 3, 19, 23, 59, 59)),
        # + 2 days from Thursday lands on Saturday: the period ends on Monday.
        ("critical_infrastructure", local(2026, 3, 5, 16), local(2026, 3, 9, 23, 59, 59)),
        ("widespread", local(2026, 3, 5, 16), local(2026, 3, 9, 23, 59, 59)),
        # + 10 days from Friday 6 March lands on Monday 16 March: unchanged.
        ("death", local(2026, 3, 6, 9), local(2026, 3, 16, 23, 59, 59)),
        # + 10 days from Wednesday 11 March lands on Saturday 21: moves to Monday 23.
        ("death", local(2026, 3, 11, 9), local(2026, 3, 23, 23, 59, 59)),
        # Across the DST change (29 March 2026): still the end of the local day.
        ("general", local(2026, 3, 20, 8), local(2026, 4, 6, 23, 59, 59)),
        # Aware late in the evening local time (already the next day in UTC terms is irrelevant).
        ("critical_infrastructure", local(2026, 3, 2, 23, 30), local(2026, 3, 4, 23, 59, 59)),
    ],
    ids=["15-days", "2-days-weekend", "widespread-weekend", "death-monday", "death-weekend",
         "across-dst", "late-evening"],
)  # fmt: skip
def test_the_reporting_deadline_for_each_kind(kind, aware, deadline):
    assert incident_deadline(kind=kind, aware_at=aware, tz=BRUSSELS) == deadline.astimezone(dt.UTC)


def test_the_deadline_after_dst_is_in_summer_time():
    deadline = incident_deadline(kind="general", aware_at=local(2026, 3, 20, 8), tz=BRUSSELS)

    assert deadline.isoformat() == "2026-04-06T21:59:59+00:00"  # 23:59:59 CEST
