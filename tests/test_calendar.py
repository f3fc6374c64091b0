"""The public calendar feed (issue 14, item 1): RFC 5545 as calendar apps enforce it, the
timeline's filters, stable UIDs with SEQUENCE up after an amendment, cancelled withdrawn
milestones, 304s from the public page cache and a fixed number of queries."""

import datetime as dt
import re
from collections import Counter
from urllib.parse import urlsplit

import pytest
import time_machine
from django.conf import settings
from django.core.cache import caches
from django.urls import reverse
from icalendar import Calendar

from tests.factories import (
    MilestoneFactory,
    RegulationFactory,
    bulk_catalogue,
)
from tracker.catalogue.models import Milestone
from tracker.catalogue.services import milestone_amend
from tracker.web import caching

pytestmark = pytest.mark.django_db

TODAY = dt.datetime(2026, 11, 30, 9, tzinfo=dt.UTC)
HOST = urlsplit(settings.SITE_URL).hostname


@pytest.fixture(autouse=True)
def frozen_today_and_empty_page_cache(monkeypatch):
    caches["pages"].clear()
    monkeypatch.setattr(caching, "_last_read", None)
    with time_machine.travel(TODAY, tick=False):
        yield
    caches["pages"].clear()


def _url(regulation: str = "test-act", query: str = "") -> str:
    return reverse("web:calendar", kwargs={"key": regulation}) + (f"?{query}" if query else "")


def _events(response) -> list:
    assert response.status_code == 200, response.content
    return Calendar.from_ical(response.content).walk("VEVENT")


def _by_uid(response) -> dict:
    return {str(event["UID"]): event for event in _events(response)}


def _amend(milestone: Milestone, new_date: dt.date) -> None:
    milestone_amend(
        milestone=milestone, new_date=new_date, amending_act="Regulation (EU) 2099/1",
        source_url="https://example.org/amending-act", confidence="high",
    )  # fmt: skip


# The calendar itself ---------------------------------------------------------------------


def test_the_feed_is_a_calendar_with_one_all_day_event_per_dated_occurrence(
    client, loaded_small_pack
):
    response = client.get(_url())

    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    calendar = Calendar.from_ical(response.content)
    assert str(calendar["VERSION"]) == "2.0"
    assert str(calendar["PRODID"]) == "-//Jalon//Regulatory deadlines//EN"
    assert str(calendar["CALSCALE"]) == "GREGORIAN"
    assert str(calendar["X-WR-CALNAME"]) == "Test Act deadlines · Jalon"
    events = calendar.walk("VEVENT")
    # the relative milestone (test-incident) has no date: not listed; the recurring review
    # (every 48 months from 2 August 2028) comes as its next three occurrences
    assert sorted(str(e["UID"]) for e in events) == sorted(
        [
            f"test-entry-into-force@{HOST}",
            f"test-high-risk@{HOST}",
            f"test-review-0@{HOST}",
            f"test-review-1@{HOST}",
            f"test-review-2@{HOST}",
        ]
    )
    for event in events:
        for name in ("UID", "DTSTAMP", "DTSTART", "DTEND", "SUMMARY", "SEQUENCE", "URL"):
            assert name in event, (event["UID"], name)
        start, end = event.decoded("DTSTART"), event.decoded("DTEND")
        assert type(start) is dt.date and end == start + dt.timedelta(days=1)
        assert event["DTSTART"].params.get("VALUE") == "DATE"
        assert event.decoded("DTSTAMP").utcoffset() == dt.timedelta(0)
    by_uid = {str(e["UID"]): e for e in events}
    high_risk = by_uid[f"test-high-risk@{HOST}"]
    assert high_risk.decoded("DTSTART") == dt.date(2027, 12, 2)
    assert str(high_risk["SUMMARY"]) == "High-risk obligations apply"
    assert str(high_risk["STATUS"]) == "CONFIRMED"
    assert int(high_risk["SEQUENCE"]) == 1  # the pack records one amendment
    page = settings.SITE_URL + reverse("web:milestone", kwargs={"key": "test-high-risk"})
    assert str(high_risk["URL"]) == page
    assert [by_uid[f"test-review-{n}@{HOST}"].decoded("DTSTART") for n in range(3)] == [
        dt.date(2028, 8, 2),
        dt.date(2032, 8, 2),
        dt.date(2036, 8, 2),
    ]


def test_a_recurring_milestone_keeps_its_last_past_occurrence_and_each_its_uid(
    client, loaded_small_pack
):
    with time_machine.travel(dt.datetime(2033, 1, 10, tzinfo=dt.UTC), tick=False):
        events = _by_uid(client.get(_url(query="category=review")))

    assert {uid: e.decoded("DTSTART") for uid, e in events.items()} == {
        f"test-review-1@{HOST}": dt.date(2032, 8, 2),
        f"test-review-2@{HOST}": dt.date(2036, 8, 2),
        f"test-review-3@{HOST}": dt.date(2040, 8, 2),
        f"test-review-4@{HOST}": dt.date(2044, 8, 2),
    }


def test_the_description_has_the_explainer_legal_basis_and_a_link_but_never_the_editor_note(
    client, db
):
    milestone = MilestoneFactory(
        title="Providers register their systems",
        explainer="Register the system in the EU database before placing it on the market.",
        legal_basis="Art. 49(1)",
        editor_note="EDITOR-ONLY: check the Omnibus draft before publishing",
    )

    response = client.get(_url("eu-ai-act"))

    assert b"EDITOR-ONLY" not in response.content
    assert b"Omnibus draft" not in response.content
    (event,) = _events(response)
    description = str(event["DESCRIPTION"])
    page = settings.SITE_URL + milestone.get_absolute_url()
    assert description.startswith("Register the system in the EU database")
    assert "Legal basis: Art. 49(1)." in description
    assert description.endswith(f"Details and sources: {page}")


def test_the_summary_stands_in_for_a_missing_explainer(client, db):
    MilestoneFactory(summary="The Commission publishes guidelines.", explainer="")

    (event,) = _events(client.get(_url("eu-ai-act")))

    assert str(event["DESCRIPTION"]).startswith("The Commission publishes guidelines.")


def test_the_raw_feed_uses_crlf_and_folds_lines_at_75_octets(client, db):
    # a long title and explainer with accents and a dash: several octets per character
    MilestoneFactory(
        title="Les fournisseurs de systèmes à haut risque — obligations " * 3,
        explainer="Évaluation de la conformité, déclaration UE, marquage CE — " * 8,
    )

    raw = client.get(_url("eu-ai-act")).content

    assert raw.endswith(b"\r\n")
    assert b"\n" not in raw.replace(b"\r\n", b"")
    lines = raw.split(b"\r\n")
    assert max(len(line) for line in lines) <= 75
    assert any(line.startswith(b" ") for line in lines)  # folded, so the test can fail
    raw.decode("utf-8")  # folding never splits a character
    summary = Calendar.from_ical(raw).walk("VEVENT")[0]["SUMMARY"]
    assert str(summary) == "Les fournisseurs de systèmes à haut risque — obligations " * 3


def test_a_withdrawn_or_superseded_milestone_comes_cancelled(client, db):
    MilestoneFactory(key="gone", status=Milestone.Status.WITHDRAWN)
    MilestoneFactory(key="replaced", status=Milestone.Status.SUPERSEDED)
    MilestoneFactory(key="maybe", status=Milestone.Status.PROPOSED)

    events = _by_uid(client.get(_url("eu-ai-act")))

    assert str(events[f"gone@{HOST}"]["STATUS"]) == "CANCELLED"
    assert str(events[f"replaced@{HOST}"]["STATUS"]) == "CANCELLED"
    assert str(events[f"maybe@{HOST}"]["STATUS"]) == "TENTATIVE"


def test_another_regulation_is_not_in_the_feed_and_an_unknown_one_is_a_404(client, db):
    MilestoneFactory(key="ai-act-thing")
    MilestoneFactory(key="other-thing", regulation=RegulationFactory(key="other"))

    assert list(_by_uid(client.get(_url("eu-ai-act")))) == [f"ai-act-thing@{HOST}"]
    assert client.get(_url("nope")).status_code == 404


# Filters -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "keys"),
    [
        ("", {"test-entry-into-force", "test-high-risk", "test-review"}),
        ("role=deployer", {"test-entry-into-force"}),
        ("scope=high_risk_annex_iii", {"test-entry-into-force", "test-high-risk", "test-review"}),
        ("scope=high_risk_annex_iii&role=deployer", {"test-entry-into-force"}),
        ("category=application", {"test-high-risk"}),
        ("q=commission", {"test-review"}),
        ("q=high-risk&role=provider", {"test-high-risk"}),
    ],
)  # fmt: skip
def test_filters_narrow_the_feed_as_they_narrow_the_timeline(
    client, loaded_small_pack, query, keys
):
    events = _events(client.get(_url(query=query)))
    timeline = client.get(f"/?regulation=test-act&{query}").context["timeline"].dated

    found = {str(e["URL"]).rstrip("/").rsplit("/", 1)[1] for e in events}
    assert found == keys
    assert found == {entry.milestone.key for entry in timeline}


def test_the_calendar_name_says_which_filters_it_carries(client, loaded_small_pack):
    calendar = Calendar.from_ical(
        client.get(_url(query="role=deployer&category=application")).content
    )

    assert (
        str(calendar["X-WR-CALNAME"]) == "Test Act deadlines (Deployers, Obligations apply) · Jalon"
    )


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("role=pope", "role: Select a valid choice."),
        ("category=party", "category: Select a valid choice. party is not one of"),
        ("q=" + "+".join(f"w{n}" for n in range(9)), "q: Search with at most 8 words."),
    ],
)
def test_a_bad_filter_is_a_400_with_a_plain_text_message(client, loaded_small_pack, query, message):
    response = client.get(_url(query=query))

    assert response.status_code == 400
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert message in response.content.decode()
    assert "ETag" not in response


# Amendments and the page cache -------------------------------------------------------------


def test_an_amendment_keeps_the_uid_moves_the_date_and_raises_sequence_and_the_etag(
    client, loaded_small_pack
):
    milestone = Milestone.objects.get(key="test-high-risk")
    uid = f"test-high-risk@{HOST}"
    first = client.get(_url())
    before = _by_uid(first)[uid]

    # a conditional request for the same version: 304, no body
    unchanged = client.get(_url(), HTTP_IF_NONE_MATCH=first["ETag"])
    assert unchanged.status_code == 304
    assert unchanged.content == b""

    with time_machine.travel(TODAY + dt.timedelta(minutes=5), tick=False):
        _amend(milestone, dt.date(2028, 8, 2))
        changed = client.get(_url(), HTTP_IF_NONE_MATCH=first["ETag"])

    assert changed.status_code == 200
    assert changed["ETag"] != first["ETag"]
    after = _by_uid(changed)[uid]
    assert before.decoded("DTSTART") == dt.date(2027, 12, 2)
    assert after.decoded("DTSTART") == dt.date(2028, 8, 2)
    assert after.decoded("DTEND") == dt.date(2028, 8, 3)
    assert int(before["SEQUENCE"]) == 1  # the pack's amendment
    assert int(after["SEQUENCE"]) == 2
    assert after.decoded("LAST-MODIFIED") > before.decoded("LAST-MODIFIED")
    assert "Moved from 2 December 2027 by Regulation (EU) 2099/1." in str(after["DESCRIPTION"])

    with time_machine.travel(TODAY + dt.timedelta(minutes=10), tick=False):
        _amend(milestone, dt.date(2029, 1, 15))
        again = _by_uid(client.get(_url()))[uid]
    assert int(again["SEQUENCE"]) == 3
    assert again.decoded("DTSTART") == dt.date(2029, 1, 15)


def test_the_feed_sends_validators_and_a_short_public_cache_life(client, loaded_small_pack):
    response = client.get(_url(query="role=provider"))

    assert response["ETag"].startswith('"')
    assert response["Last-Modified"].endswith(" GMT")
    assert response["Cache-Control"] == f"public, max-age={caching.MAX_AGE}"
    assert not response.cookies


@pytest.mark.parametrize("size", [10, 1000])
def test_the_feed_runs_a_fixed_number_of_queries(client, django_assert_num_queries, size):
    bulk_catalogue(size)  # half recurring, every one amended once

    # the catalogue stamp (a public page); the regulation; the role of the filter;
    # the milestones; their amendments
    with django_assert_num_queries(5):
        response = client.get(_url("eu-ai-act", "role=provider"))

    events = _events(response)
    per_milestone = Counter(str(e["URL"]).rstrip("/").rsplit("/", 1)[1] for e in events)
    assert len(per_milestone) == size  # every milestone is in the feed
    for n in range(size):  # a fixed date once, a recurring one at each of its occurrences
        assert (per_milestone[f"bulk-{n}"] > 1) == bool(n % 2), n
    assert {int(e["SEQUENCE"]) for e in events} == {1}


# Links on the pages ------------------------------------------------------------------------


def test_the_timeline_links_to_the_feed_with_its_filters_as_ics_and_webcal(
    client, loaded_small_pack
):
    html = client.get(
        "/?q=&regulation=test-act&role=provider&scope=&category=application&past=1"
    ).content.decode()

    ics = "/calendar/test-act.ics?role=provider&amp;category=application"
    assert f'href="{ics}"' in html
    assert f'href="webcal://testserver{ics}"' in html


def test_the_timeline_links_to_the_whole_feed_without_filters(client, loaded_small_pack):
    html = client.get("/?regulation=test-act&role=&q=").content.decode()

    assert 'href="/calendar/test-act.ics"' in html
    assert 'href="webcal://testserver/calendar/test-act.ics"' in html


def test_a_milestone_page_links_to_its_regulation_feed(client, loaded_small_pack):
    url = reverse("web:milestone", kwargs={"key": "test-high-risk"})

    html = client.get(url, HTTP_HOST="127.0.0.1").content.decode()

    assert 'href="/calendar/test-act.ics"' in html
    assert 'href="webcal://127.0.0.1/calendar/test-act.ics"' in html


def test_every_feed_line_is_a_property_or_a_continuation(client, loaded_small_pack):
    raw = client.get(_url()).content.decode()

    for line in raw.split("\r\n")[:-1]:
        assert line.startswith(" ") or re.match(r"^[A-Z][A-Z0-9-]*[;:]", line), line


def test_the_feed_answers_head_and_refuses_a_post(client, loaded_small_pack):
    head = client.head(_url())

    assert head.status_code == 200
    assert head["Content-Type"] == "text/calendar; charset=utf-8"
    assert client.post(_url()).status_code == 405
