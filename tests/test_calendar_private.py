"""The private calendar feed of an organisation (issue 14, item 1): an address with a secret
stored hashed, rotated and revoked by an owner (404 after), open items with owner and target
date, incident deadlines in the incident's zone, RFC 5545 as calendars enforce it, SEQUENCE
and LAST-MODIFIED that move with the date, cancelled items, ETag and 304, a fixed number of
queries at 10 and 1,000 items."""

import datetime as dt
import hashlib
import re
from urllib.parse import urlsplit

import pytest
import time_machine
from django.urls import reverse
from icalendar import Calendar
from simple_history.utils import bulk_create_with_history

from tests.factories import UserFactory, acme_organisation, bulk_catalogue
from tests.test_calendar import HOST, TODAY, _amend, _events
from tracker.catalogue.models import Milestone
from tracker.workspace.services import item_update, organisation_create

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def frozen_today():
    with time_machine.travel(TODAY, tick=False):
        yield


# The private feed of an organisation ---------------------------------------------------------


@pytest.fixture
def acme(ai_act_catalogue):
    from tracker.workspace.models import Incident, Membership

    owner = UserFactory(username="olive", first_name="Olive", last_name="Owner")
    org = acme_organisation(owner)
    editor, viewer = UserFactory(username="eddie"), UserFactory(username="vera")
    Membership.objects.create(organisation=org, user=editor, role=Membership.Role.EDITOR)
    Membership.objects.create(organisation=org, user=viewer, role=Membership.Role.VIEWER)
    item = org.items.tracked().open().exclude(milestone__date=None).order_by("pk").first()
    item.owner, item.target_date = editor, dt.date(2027, 5, 3)
    item.save()
    Incident.objects.create(
        organisation=org, system=org.systems.get(), kinds=["general"], member_state="FI",
        aware_at=TODAY - dt.timedelta(hours=3), description="secret incident text",
        owner=owner,
    )  # fmt: skip
    return {"org": org, "owner": owner, "editor": editor, "viewer": viewer, "item": item}


def _make_address(client, acme) -> str:
    client.force_login(acme["owner"])
    response = client.post(
        reverse("workspace:calendar", kwargs={"slug": acme["org"].slug}), {"action": "rotate"}
    )
    assert response.status_code == 200
    url = re.search(r'<code id="feed-url">([^<]+)</code>', response.content.decode()).group(1)
    client.logout()  # a calendar app has no session
    return urlsplit(url).path


def test_an_owner_makes_a_private_address_stored_only_as_a_hash(client, acme):
    from tracker.workspace.calendar_feed import CalendarFeed

    path = _make_address(client, acme)

    secret = path.rsplit("/", 1)[1].removesuffix(".ics")
    assert len(secret) >= 40
    feed = CalendarFeed.objects.get(organisation=acme["org"])
    assert secret not in {feed.secret_hash, str(feed.pk)}
    assert feed.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    response = client.get(path)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]


def test_the_private_feed_lists_open_items_with_owner_and_incident_deadlines_in_their_zone(
    client, acme
):
    raw = client.get(_make_address(client, acme)).content
    calendar = Calendar.from_ical(raw)
    events = {str(e["UID"]): e for e in calendar.walk("VEVENT")}
    item = acme["item"]

    mine = events[f"item-{item.pk}@{HOST}"]
    assert mine.decoded("DTSTART") == dt.date(2027, 5, 3)  # the team's target date
    assert "Owner: eddie." in str(mine["DESCRIPTION"])
    assert f"Legal basis: {item.article}." in str(mine["DESCRIPTION"])
    open_items = acme["org"].items.tracked().open().exclude(milestone__date=None).count()
    assert len([uid for uid in events if uid.startswith("item-")]) == open_items
    incident = acme["org"].incidents.get()
    deadline = events[f"incident-{incident.pk}@{HOST}"]
    start = deadline.decoded("DTSTART")
    assert deadline["DTSTART"].params["TZID"] == "Europe/Helsinki"
    assert start == incident.clock().deadline
    assert start.utcoffset() == dt.timedelta(hours=2)  # EET in winter
    assert [str(tz["TZID"]) for tz in calendar.walk("VTIMEZONE")] == ["Europe/Helsinki"]
    for event in events.values():
        assert {"UID", "DTSTAMP", "DTSTART"} <= set(event)
    assert b"secret incident text" not in raw
    lines = raw.split(b"\r\n")
    assert b"\n" not in raw.replace(b"\r\n", b"") and max(map(len, lines)) <= 75


def test_a_reported_incident_and_a_done_item_leave_the_feed(client, acme):
    from tracker.workspace.models import TrackedItem

    path = _make_address(client, acme)
    acme["org"].incidents.update(reported_at=TODAY)
    TrackedItem.objects.filter(pk=acme["item"].pk).update(status=TrackedItem.Status.DONE)

    uids = {str(e["UID"]) for e in _events(client.get(path))}

    assert not any(uid.startswith("incident-") for uid in uids)
    assert f"item-{acme['item'].pk}@{HOST}" not in uids


def test_a_rotated_or_revoked_address_is_a_404_and_so_is_a_wrong_one(client, acme):
    settings_url = reverse("workspace:calendar", kwargs={"slug": acme["org"].slug})
    first = _make_address(client, acme)
    second = _make_address(client, acme)

    assert client.get(first).status_code == 404
    assert client.get(second).status_code == 200
    assert client.get(second.replace(".ics", "x.ics")).status_code == 404
    other = organisation_create(name="Other Co", owner=UserFactory(username="other"))
    assert client.get(second.replace(f"/{acme['org'].slug}/", f"/{other.slug}/")).status_code == 404

    client.force_login(acme["owner"])
    page = client.post(settings_url, {"action": "revoke"})
    assert "it no longer works" in page.content.decode()
    client.logout()
    assert client.get(second).status_code == 404


def test_only_an_owner_changes_the_address_and_outsiders_see_nothing(client, acme):
    from tracker.workspace.calendar_feed import CalendarFeed

    url = reverse("workspace:calendar", kwargs={"slug": acme["org"].slug})
    for person in ("editor", "viewer"):
        client.force_login(acme[person])
        assert client.get(url).status_code == 200
        assert client.post(url, {"action": "rotate"}).status_code == 403
    client.force_login(UserFactory(username="outsider"))
    assert client.get(url).status_code == 404
    assert client.post(url, {"action": "rotate"}).status_code == 404
    client.logout()
    assert client.post(url, {"action": "rotate"}).status_code == 302  # to the sign-in page
    assert not CalendarFeed.objects.exists()


def test_the_private_feed_runs_a_fixed_number_of_queries(client, acme, django_assert_num_queries):
    from tracker.workspace.models import Incident

    path = _make_address(client, acme)
    # the feed and its organisation; the items' history; the items; their amendments; the
    # clock periods; the incidents with their history
    with django_assert_num_queries(6):
        few = _events(client.get(path))
    for hours in range(5):
        Incident.objects.create(
            organisation=acme["org"], system=acme["org"].systems.get(), kinds=["general"],
            member_state="FR", aware_at=TODAY - dt.timedelta(hours=hours + 1),
        )  # fmt: skip
    with django_assert_num_queries(6):
        more = _events(client.get(path))
    assert len(more) == len(few) + 5


# RFC 5545 as calendars enforce it ----------------------------------------------------------


def assert_rfc5545(raw: bytes) -> Calendar:
    """Lines end in CRLF and are folded at 75 octets (continuations start with a space, never
    inside a UTF-8 character); every event has a UID, a DTSTAMP in UTC and a DTSTART; UIDs
    are unique. Returns the calendar parsed back."""
    assert raw.endswith(b"\r\n")
    assert b"\n" not in raw.replace(b"\r\n", b""), "a bare LF"
    lines = raw.split(b"\r\n")[:-1]
    assert max(len(line) for line in lines) <= 75
    for line in lines:
        line.decode()  # a fold inside a character would break this
    assert any(line.startswith(b" ") for line in lines), "nothing long enough to fold?"
    calendar = Calendar.from_ical(raw)
    assert str(calendar["VERSION"]) == "2.0" and "PRODID" in calendar
    events = calendar.walk("VEVENT")
    assert events
    for event in events:
        assert {"UID", "DTSTAMP", "DTSTART", "SEQUENCE", "LAST-MODIFIED"} <= set(event)
        assert event.decoded("DTSTAMP").utcoffset() == dt.timedelta(0)
    raw_stamps = [line for line in lines if line.startswith(b"DTSTAMP:")]
    assert len(raw_stamps) == len(events) and all(line.endswith(b"Z") for line in raw_stamps)
    uids = [str(event["UID"]) for event in events]
    assert len(uids) == len(set(uids))
    return calendar


def test_the_private_feed_keeps_the_rules_calendars_enforce(client, acme):
    raw = client.get(_make_address(client, acme)).content

    calendar = assert_rfc5545(raw)
    mine = {str(e["UID"]): e for e in calendar.walk("VEVENT")}[f"item-{acme['item'].pk}@{HOST}"]
    assert mine["DTSTART"].params.get("VALUE") == "DATE"  # an all-day event
    assert mine.decoded("DTEND") == dt.date(2027, 5, 4)
    assert str(mine["STATUS"]) in {"CONFIRMED", "TENTATIVE"}
    assert f"http://{HOST}" in str(mine["DESCRIPTION"]) or "https://" in str(mine["DESCRIPTION"])
    assert str(mine["URL"]).endswith(f"/w/{acme['org'].slug}/items/{acme['item'].pk}/")


def _legal_item(org):
    """An open item with no target date, on a fixed milestone with a date."""
    return (
        org.items.tracked().open()
        .filter(target_date=None, milestone__kind=Milestone.Kind.FIXED, milestone__date__gt=TODAY)
        .order_by("pk").first()
    )  # fmt: skip


def test_an_amendment_moves_the_event_with_the_same_uid_a_higher_sequence_and_a_later_stamp(
    client, acme
):
    path = _make_address(client, acme)
    item = _legal_item(acme["org"])
    uid = f"item-{item.pk}@{HOST}"
    before = {str(e["UID"]): e for e in _events(client.get(path))}[uid]
    new_date = item.milestone.date + dt.timedelta(days=365)

    with time_machine.travel(TODAY + dt.timedelta(days=1), tick=False):
        _amend(item.milestone, new_date)
        after = {str(e["UID"]): e for e in _events(client.get(path))}[uid]

    assert after.decoded("DTSTART") == new_date != before.decoded("DTSTART")
    assert int(after["SEQUENCE"]) == int(before["SEQUENCE"]) + 1
    assert after.decoded("LAST-MODIFIED") > before.decoded("LAST-MODIFIED")
    assert after.decoded("DTSTAMP") == after.decoded("LAST-MODIFIED")
    assert f"Legal date: {new_date:%d %B %Y}." in str(after["DESCRIPTION"])


def test_a_new_target_date_moves_the_event_with_a_higher_sequence_and_a_later_stamp(client, acme):
    path = _make_address(client, acme)
    item = _legal_item(acme["org"])
    uid = f"item-{item.pk}@{HOST}"
    before = {str(e["UID"]): e for e in _events(client.get(path))}[uid]

    with time_machine.travel(TODAY + dt.timedelta(days=2), tick=False):
        item_update(item=item, by=acme["owner"], target_date=dt.date(2027, 1, 15))
        moved = {str(e["UID"]): e for e in _events(client.get(path))}[uid]
    with time_machine.travel(TODAY + dt.timedelta(days=3), tick=False):
        item_update(item=item, by=acme["owner"], notes="a note does not move the date")
        noted = {str(e["UID"]): e for e in _events(client.get(path))}[uid]
        item_update(item=item, by=acme["owner"], target_date=None)  # back to the legal date
        back = {str(e["UID"]): e for e in _events(client.get(path))}[uid]

    assert moved.decoded("DTSTART") == dt.date(2027, 1, 15)
    assert int(moved["SEQUENCE"]) == int(before["SEQUENCE"]) + 1
    assert moved.decoded("LAST-MODIFIED") > before.decoded("LAST-MODIFIED")
    assert int(noted["SEQUENCE"]) == int(moved["SEQUENCE"])  # the date did not move
    assert back.decoded("DTSTART") == before.decoded("DTSTART")
    assert int(back["SEQUENCE"]) == int(moved["SEQUENCE"]) + 1  # never back down


# Items that are no longer to do --------------------------------------------------------------


def test_a_withdrawn_milestone_and_a_not_applicable_item_come_as_cancelled_then_leave(client, acme):
    from tracker.workspace.models import TrackedItem

    path = _make_address(client, acme)
    items = list(
        acme["org"]
        .items.tracked()
        .open()
        .exclude(milestone__date=None)
        .exclude(pk=acme["item"].pk)
        .order_by("pk")[:3]
    )
    withdrawn, not_applicable, stopped = items
    with time_machine.travel(TODAY + dt.timedelta(days=1), tick=False):
        Milestone.objects.filter(pk=withdrawn.milestone_id).update(
            status=Milestone.Status.WITHDRAWN, updated_at=TODAY + dt.timedelta(days=1)
        )
        item_update(item=not_applicable, by=acme["owner"], status="not_applicable",
                    not_applicable_reason="We never place it on the market.")  # fmt: skip
        TrackedItem.objects.filter(pk=stopped.pk).update(
            applies=False, stopped_at=TODAY + dt.timedelta(days=1),
            stopped_reason="The system is no longer high-risk.",
        )  # fmt: skip
        events = {str(e["UID"]): e for e in _events(client.get(path))}

    uid = f"item-{{}}@{HOST}".format
    assert str(events[uid(withdrawn.pk)]["STATUS"]) == "CANCELLED"
    assert "The milestone was withdrawn." in str(events[uid(withdrawn.pk)]["DESCRIPTION"])
    assert str(events[uid(not_applicable.pk)]["STATUS"]) == "CANCELLED"
    assert "never place it" not in str(events[uid(not_applicable.pk)]["DESCRIPTION"])
    assert str(events[uid(stopped.pk)]["STATUS"]) == "CANCELLED"
    assert "no longer high-risk" in str(events[uid(stopped.pk)]["DESCRIPTION"])
    live = [e for e in events.values() if str(e["UID"]).startswith("item-")]
    assert sum(str(e["STATUS"]) == "CANCELLED" for e in live) == 3

    # 90 days after their last change, calendars have struck them: they leave
    with time_machine.travel(TODAY + dt.timedelta(days=92), tick=False):
        later = {str(e["UID"]) for e in _events(client.get(path))}
    assert not {uid(withdrawn.pk), uid(not_applicable.pk), uid(stopped.pk)} & later
    assert uid(acme["item"].pk) in later


# ETag and 304 ------------------------------------------------------------------------------


def test_the_feed_answers_304_to_a_matching_etag_and_is_private(client, acme):
    path = _make_address(client, acme)

    first = client.get(path)
    etag = first["ETag"]
    again = client.get(path, headers={"If-None-Match": etag})
    other = client.get(path, headers={"If-None-Match": '"something-else"'})

    assert etag.startswith('"') and etag == client.get(path)["ETag"]  # the body is stable
    assert again.status_code == 304 and again.content == b""
    assert again["ETag"] == etag
    assert other.status_code == 200 and other.content == first.content
    for response in (first, again):
        cache = response["Cache-Control"]
        assert "private" in cache and "no-cache" in cache and "public" not in cache
        assert response["X-Robots-Tag"] == "noindex"
        assert not response.cookies  # no Set-Cookie on a feed
        assert "Cookie" not in response.get("Vary", "")
    # a change in the data is a new body and a new ETag
    with time_machine.travel(TODAY + dt.timedelta(days=1), tick=False):
        item_update(item=acme["item"], by=acme["owner"], target_date=dt.date(2027, 6, 1))
        changed = client.get(path, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed["ETag"] != etag
    assert client.head(path, headers={"If-None-Match": changed["ETag"]}).status_code == 304


# A fixed number of queries at 10 and 1,000 items -----------------------------------------------


def bulk_items(org, owner, size: int) -> list:
    """`size` open items of `org` owned by `owner` on milestones of their own (amended once),
    every other one with a target date, with their history rows; and a tenth as many open
    incidents owned by `owner`. Built in bulk."""
    from tracker.workspace.models import Incident, TrackedItem

    milestones = bulk_catalogue(size)
    items = bulk_create_with_history(
        [
            TrackedItem(
                organisation=org,
                milestone=m,
                owner=owner,
                reasons=[],
                target_date=dt.date(2028, 1, 1) + dt.timedelta(days=n) if n % 2 else None,
            )
            for n, m in enumerate(milestones)
        ],
        TrackedItem,
    )
    system = org.systems.first()
    Incident.objects.bulk_create(
        Incident(
            organisation=org,
            system=system,
            kinds=["general"],
            member_state="DE",
            aware_at=TODAY - dt.timedelta(hours=n + 1),
            owner=owner,
        )
        for n in range(max(size // 10, 1))
    )
    return items


@pytest.mark.parametrize("size", [10, 1000])
def test_the_private_feed_runs_six_queries_at_10_and_1000_items(
    client, acme, django_assert_num_queries, size
):
    org = acme["org"]
    path = _make_address(client, acme)
    before = len(_events(client.get(path)))
    bulk_items(org, acme["editor"], size)

    # the feed and its organisation; the items' history; the items; their amendments; the
    # clock periods; the incidents with their history
    with django_assert_num_queries(6):
        response = client.get(path)

    events = _events(response)
    assert len(events) == before + size + max(size // 10, 1)
    bulk = [e for e in events if str(e["SUMMARY"]).startswith("Milestone")]
    assert len(bulk) == size and {int(e["SEQUENCE"]) for e in bulk} == {1}
