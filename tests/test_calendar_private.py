"""The private calendar feed of an organisation (issue 14, item 1): an address with a secret
stored hashed, rotated and revoked by an owner (404 after), open items with owner and target
date, incident deadlines in the incident's zone, a fixed number of queries."""

import datetime as dt
import hashlib
import re
from urllib.parse import urlsplit

import pytest
import time_machine
from django.urls import reverse
from icalendar import Calendar

from tests.factories import UserFactory, acme_organisation
from tests.test_calendar import HOST, TODAY, _events
from tracker.workspace.services import organisation_create

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
    # the feed and its organisation; the items; their amendments; the clock periods; incidents
    with django_assert_num_queries(5):
        few = _events(client.get(path))
    for hours in range(5):
        Incident.objects.create(
            organisation=acme["org"], system=acme["org"].systems.get(), kinds=["general"],
            member_state="FR", aware_at=TODAY - dt.timedelta(hours=hours + 1),
        )  # fmt: skip
    with django_assert_num_queries(5):
        more = _events(client.get(path))
    assert len(more) == len(few) + 5
