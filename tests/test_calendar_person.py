"""A person's own calendar feed (issue 14, item 1): what they own in every organisation they
belong to, behind a secret only they make, rotate or revoke (stored hashed, 404 after), with
one VALARM per lead time of their reminders there (none when turned off), RFC 5545 as
calendars enforce it, SEQUENCE up when a date moves, ETag and 304, and a fixed number of
queries at 10 and 1,000 items."""

import datetime as dt
import hashlib
import re
from urllib.parse import urlsplit

import pytest
import time_machine
from django.urls import reverse

from tests.factories import UserFactory, acme_organisation
from tests.test_calendar import HOST, TODAY, _amend, _events
from tests.test_calendar_private import assert_rfc5545, bulk_items
from tracker.reminders.personal import personal_configure
from tracker.workspace.mail_settings import owner_key
from tracker.workspace.services import item_update

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def frozen_today():
    with time_machine.travel(TODAY, tick=False):
        yield


def _company(name, owner):
    """Another company with Acme's facts (so that it tracks items), under its own name."""
    org = acme_organisation(owner)
    org.name = name
    org.save(update_fields=["name"])
    return org


@pytest.fixture
def world(ai_act_catalogue):
    """Eddie is an editor of Acme (owns two items and an incident there) and a viewer of Beta
    (owns one item); Olive owns Acme and an item of her own; Otto's Gamma once gave Eddie an
    item, but Eddie is not a member of Gamma."""
    from tracker.workspace.models import Incident, Membership

    olive = UserFactory(username="olive", first_name="Olive", last_name="Owner")
    eddie = UserFactory(username="eddie", first_name="Eddie", last_name="Editor")
    acme = acme_organisation(olive)
    Membership.objects.create(organisation=acme, user=eddie, role=Membership.Role.EDITOR)
    beta = _company("Beta", UserFactory(username="bea"))
    Membership.objects.create(organisation=beta, user=eddie, role=Membership.Role.VIEWER)
    gamma = _company("Gamma", UserFactory(username="otto"))

    def dated(org, n):
        return list(org.items.tracked().open().exclude(milestone__date=None).order_by("pk")[:n])

    acme_items = dated(acme, 3)
    for item in acme_items[:2]:
        item.owner = eddie
        item.save()
    acme_items[2].owner = olive
    acme_items[2].save()
    beta_item = dated(beta, 1)[0]
    beta_item.owner, beta_item.target_date = eddie, dt.date(2027, 3, 1)
    beta_item.save()
    gamma_item = dated(gamma, 1)[0]
    gamma_item.owner = eddie  # left over: he is not a member of Gamma
    gamma_item.save()
    incident = Incident.objects.create(
        organisation=acme, system=acme.systems.get(), kinds=["general"], member_state="PT",
        region="PT-20", aware_at=TODAY - dt.timedelta(hours=3), owner=eddie,
        description="secret incident text",
    )  # fmt: skip
    return {"olive": olive, "eddie": eddie, "acme": acme, "beta": beta, "gamma": gamma,
            "mine": [*acme_items[:2], beta_item], "hers": acme_items[2],
            "gamma_item": gamma_item, "incident": incident}  # fmt: skip


def _page(org) -> str:
    return reverse("workspace:my_calendar", kwargs={"slug": org.slug})


def _make_address(client, user, org) -> str:
    client.force_login(user)
    response = client.post(_page(org), {"action": "rotate"})
    assert response.status_code == 200
    url = re.search(r'<code id="feed-url">([^<]+)</code>', response.content.decode()).group(1)
    client.logout()  # a calendar app has no session
    return urlsplit(url).path


def _by_uid(response) -> dict:
    return {str(event["UID"]): event for event in _events(response)}


def _uid(item) -> str:
    return f"item-{item.pk}@{HOST}"


# The address -----------------------------------------------------------------------------


def test_a_person_makes_their_own_address_stored_only_as_a_hash(client, world):
    from tracker.workspace.calendar_feed import PersonCalendarFeed

    path = _make_address(client, world["eddie"], world["beta"])  # a viewer there: allowed

    secret = path.rsplit("/", 1)[1].removesuffix(".ics")
    assert path == f"/w/calendar/{secret}.ics" and len(secret) >= 40
    feed = PersonCalendarFeed.objects.get(user=world["eddie"])
    assert feed.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in {feed.secret_hash, str(feed.pk)}
    response = client.get(path)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    client.force_login(world["eddie"])
    page = client.get(_page(world["acme"])).content.decode()
    assert "Your calendar address is active since" in page and secret not in page


def test_the_organisation_calendar_page_leads_to_the_own_feed(client, world):
    client.force_login(world["eddie"])
    page = client.get(reverse("workspace:calendar", kwargs={"slug": world["acme"].slug}))

    assert f'href="{_page(world["acme"])}"' in page.content.decode()
    assert "make your own calendar address" in page.content.decode()


def test_a_rotated_or_revoked_address_is_a_404_and_so_is_a_wrong_one(client, world):
    first = _make_address(client, world["eddie"], world["acme"])
    second = _make_address(client, world["eddie"], world["acme"])

    assert client.get(first).status_code == 404
    assert client.get(second).status_code == 200
    assert client.get(second.replace(".ics", "x.ics")).status_code == 404

    client.force_login(world["eddie"])
    page = client.post(_page(world["acme"]), {"action": "revoke"})
    assert "it no longer works" in page.content.decode()
    assert client.post(_page(world["acme"]), {"action": "explode"}).status_code == 400
    client.logout()
    assert client.get(second).status_code == 404


def test_nobody_else_sees_or_changes_a_persons_feed(client, world):
    from tracker.workspace.calendar_feed import PersonCalendarFeed

    eddies = _make_address(client, world["eddie"], world["acme"])
    stored = PersonCalendarFeed.objects.get(user=world["eddie"]).secret_hash

    # Olive owns Acme, yet her page is about her own feed: rotating or revoking there never
    # touches Eddie's
    client.force_login(world["olive"])
    assert "You have no calendar address." in client.get(_page(world["acme"])).content.decode()
    client.post(_page(world["acme"]), {"action": "revoke"})
    olives = client.post(_page(world["acme"]), {"action": "rotate"}).content.decode()
    assert PersonCalendarFeed.objects.get(user=world["eddie"]).secret_hash == stored
    assert eddies.rsplit("/", 1)[1] not in olives
    # an outsider of Acme gets no page there; anonymous goes to sign in
    client.force_login(world["gamma"].memberships.get().user)
    assert client.get(_page(world["acme"])).status_code == 404
    assert client.post(_page(world["acme"]), {"action": "rotate"}).status_code == 404
    client.logout()
    assert client.post(_page(world["acme"]), {"action": "revoke"}).status_code == 302
    assert client.get(eddies).status_code == 200

    olive_uids = set(_by_uid(client.get(_path_of(olives))))
    eddie_uids = set(_by_uid(client.get(eddies)))
    assert _uid(world["hers"]) in olive_uids and _uid(world["hers"]) not in eddie_uids
    assert not any(uid.startswith("incident-") for uid in olive_uids)


def _path_of(page: str) -> str:
    return urlsplit(re.search(r'<code id="feed-url">([^<]+)</code>', page).group(1)).path


# What is in it ---------------------------------------------------------------------------


def test_the_feed_lists_what_the_person_owns_in_each_organisation_they_belong_to(client, world):
    response = client.get(_make_address(client, world["eddie"], world["acme"]))

    calendar = assert_rfc5545(response.content)
    events = {str(e["UID"]): e for e in calendar.walk("VEVENT")}
    items = {uid for uid in events if uid.startswith("item-")}
    assert items == {_uid(item) for item in world["mine"]}  # not Olive's, not Gamma's
    beta = events[_uid(world["mine"][2])]
    assert beta.decoded("DTSTART") == dt.date(2027, 3, 1)
    assert str(beta["SUMMARY"]).endswith(" · Beta")
    assert "Organisation: Beta." in str(beta["DESCRIPTION"])
    assert f"Legal basis: {world['mine'][2].article}." in str(beta["DESCRIPTION"])
    assert str(beta["URL"]).endswith(f"/w/{world['beta'].slug}/items/{world['mine'][2].pk}/")

    incident = events[f"incident-{world['incident'].pk}@{HOST}"]
    assert incident["DTSTART"].params["TZID"] == "Atlantic/Azores"
    assert incident.decoded("DTSTART") == world["incident"].clock().deadline
    assert incident.decoded("DTSTART").utcoffset() == dt.timedelta(hours=-1)
    assert "Legal basis: Art. 73" in str(incident["DESCRIPTION"])
    assert [str(tz["TZID"]) for tz in calendar.walk("VTIMEZONE")] == ["Atlantic/Azores"]
    assert b"secret incident text" not in response.content


def test_leaving_an_organisation_takes_its_items_out_of_the_feed(client, world):
    path = _make_address(client, world["eddie"], world["acme"])
    world["beta"].memberships.filter(user=world["eddie"]).delete()

    uids = set(_by_uid(client.get(path)))

    assert _uid(world["mine"][2]) not in uids and _uid(world["mine"][0]) in uids


def test_each_event_carries_one_alarm_per_lead_time_of_the_persons_reminders(client, world):
    eddie = world["eddie"]
    path = _make_address(client, eddie, world["acme"])
    for org, lead_days, enabled in ((world["beta"], [14, 2], True),):
        personal_configure(
            key=owner_key(organisation_id=org.pk, user_id=eddie.pk), email=eddie.email,
            manage_url="https://example.org/", enabled=enabled, lead_days=lead_days,
            tz="Europe/Paris", send_hour=9,
        )  # fmt: skip

    events = _by_uid(client.get(path))

    def triggers(event):
        return sorted((alarm.decoded("TRIGGER") for alarm in event.walk("VALARM")), reverse=True)

    acme_item, beta_item = events[_uid(world["mine"][0])], events[_uid(world["mine"][2])]
    # Acme: never set, the defaults (90, 30, 7, 1 days)
    assert triggers(acme_item) == [-dt.timedelta(days=d) for d in (1, 7, 30, 90)]
    assert triggers(beta_item) == [-dt.timedelta(days=2), -dt.timedelta(days=14)]
    for alarm in beta_item.walk("VALARM"):
        assert str(alarm["ACTION"]) == "DISPLAY"
        assert str(beta_item["SUMMARY"]) in str(alarm["DESCRIPTION"])
    raw = client.get(path).content.decode()
    assert "TRIGGER:-P14D\r\n" in raw and "TRIGGER:-P90D\r\n" in raw
    # the incident (15 days to report) gets the lead times that fall after awareness
    incident = events[f"incident-{world['incident'].pk}@{HOST}"]
    assert triggers(incident) == [-dt.timedelta(days=1), -dt.timedelta(days=7)]

    # reminders turned off in Beta: no alarms there, Acme's stay
    personal_configure(
        key=owner_key(organisation_id=world["beta"].pk, user_id=eddie.pk), email=eddie.email,
        manage_url="https://example.org/", enabled=False, lead_days=[14, 2],
        tz="Europe/Paris", send_hour=9,
    )  # fmt: skip
    events = _by_uid(client.get(path))
    assert not events[_uid(world["mine"][2])].walk("VALARM")
    assert len(events[_uid(world["mine"][0])].walk("VALARM")) == 4


def test_an_amendment_and_a_target_date_move_the_event_with_a_higher_sequence(client, world):
    path = _make_address(client, world["eddie"], world["acme"])
    item = world["mine"][0]
    before = _by_uid(client.get(path))[_uid(item)]
    new_date = item.milestone.date + dt.timedelta(days=400)

    with time_machine.travel(TODAY + dt.timedelta(days=1), tick=False):
        _amend(item.milestone, new_date)
        amended = _by_uid(client.get(path))[_uid(item)]
    with time_machine.travel(TODAY + dt.timedelta(days=2), tick=False):
        item.refresh_from_db()
        item_update(item=item, by=world["eddie"], target_date=dt.date(2027, 2, 1))
        targeted = _by_uid(client.get(path))[_uid(item)]

    assert amended.decoded("DTSTART") == new_date
    assert int(amended["SEQUENCE"]) == int(before["SEQUENCE"]) + 1
    assert targeted.decoded("DTSTART") == dt.date(2027, 2, 1)
    assert int(targeted["SEQUENCE"]) == int(amended["SEQUENCE"]) + 1
    stamps = [e.decoded("LAST-MODIFIED") for e in (before, amended, targeted)]
    assert stamps == sorted(stamps) and len(set(stamps)) == 3


def test_a_not_applicable_item_comes_cancelled_without_alarms_and_a_done_one_leaves(client, world):
    path = _make_address(client, world["eddie"], world["acme"])
    first, second = world["mine"][:2]
    item_update(item=first, by=world["eddie"], status="not_applicable",
                not_applicable_reason="Not ours.")  # fmt: skip
    item_update(item=second, by=world["eddie"], status="done")

    events = _by_uid(client.get(path))

    assert str(events[_uid(first)]["STATUS"]) == "CANCELLED"
    assert not events[_uid(first)].walk("VALARM")
    assert _uid(second) not in events


# ETag, 304 and queries ---------------------------------------------------------------------


def test_the_feed_answers_304_to_a_matching_etag_and_is_private(client, world):
    path = _make_address(client, world["eddie"], world["acme"])

    first = client.get(path)
    again = client.get(path, headers={"If-None-Match": first["ETag"]})

    assert again.status_code == 304 and again.content == b""
    assert again["ETag"] == first["ETag"]
    for response in (first, again):
        assert "private" in response["Cache-Control"] and "public" not in response["Cache-Control"]
        assert response["X-Robots-Tag"] == "noindex"
        assert not response.cookies
    personal_configure(
        key=owner_key(organisation_id=world["acme"].pk, user_id=world["eddie"].pk),
        email=world["eddie"].email, manage_url="https://example.org/", enabled=True,
        lead_days=[3], tz="Europe/Paris", send_hour=9,
    )  # fmt: skip
    changed = client.get(path, headers={"If-None-Match": first["ETag"]})
    assert changed.status_code == 200 and changed["ETag"] != first["ETag"]


@pytest.mark.parametrize("size", [10, 1000])
def test_the_person_feed_runs_seven_queries_at_10_and_1000_items(
    client, world, django_assert_num_queries, size
):
    path = _make_address(client, world["eddie"], world["acme"])
    before = len(_events(client.get(path)))
    bulk_items(world["acme"], world["eddie"], size)

    # the feed and its person; the items' history; the items; their amendments; the
    # incidents with their history; the person's lead times; the clock periods
    with django_assert_num_queries(7):
        response = client.get(path)

    events = _events(response)
    assert len(events) == before + size + max(size // 10, 1)
    assert all(
        len(event.walk("VALARM")) == 4 for event in events if "Milestone" in event["SUMMARY"]
    )
