"""The public timeline and milestone pages."""

import datetime as dt

import pytest
import time_machine
from django.urls import reverse

from tests.factories import MilestoneFactory, RegulationFactory, bulk_catalogue
from tracker.catalogue.models import Milestone

pytestmark = pytest.mark.django_db

TODAY = dt.datetime(2026, 11, 27, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def frozen():
    with time_machine.travel(TODAY, tick=False):
        yield


def test_the_timeline_lists_milestones_in_date_order_with_past_ones_marked(
    client, loaded_small_pack, frozen
):
    response = client.get("/?past=1")  # the past unfolded (it is folded by default)

    assert response.status_code == 200
    html = response.content.decode()
    entry = html.index('id="m-test-entry-into-force"')
    high_risk = html.index('id="m-test-high-risk"')
    review = html.index('id="m-test-review"')
    assert entry < high_risk < review
    assert '<li class="milestone is-past" id="m-test-entry-into-force">' in html
    assert '<li class="milestone is-next" id="m-test-high-risk">' in html


def test_the_timeline_counts_down_to_the_next_deadline(client, loaded_small_pack, frozen):
    response = client.get("/")

    next_entry = response.context["timeline"].next_entry
    assert next_entry.milestone.key == "test-high-risk"
    assert next_entry.days_left == (dt.date(2027, 12, 2) - dt.date(2026, 11, 27)).days == 370
    assert 'Next deadline <span class="countdown-big">in 370 days</span>' in (
        response.content.decode()
    )


def test_the_next_deadline_box_names_every_milestone_due_that_day(client, db, frozen):
    # given three milestones due on the same day, and a later one
    due = dt.date(2026, 12, 2)
    for key in ("b-grace", "a-bans", "c-other"):
        MilestoneFactory(key=key, title=f"Title {key}", date=due, legal_basis=f"Basis {key}")
    MilestoneFactory(key="d-later", date=dt.date(2027, 1, 1))

    response = client.get("/")

    timeline = response.context["timeline"]
    assert [e.milestone.key for e in timeline.next_entries] == ["a-bans", "b-grace", "c-other"]
    assert timeline.next_entry.milestone.key == "a-bans"
    html = response.content.decode()
    box = html[html.index('<section class="next"') : html.index("</section>")]
    assert "3 milestones fall due that day:" in box
    for key in ("a-bans", "b-grace", "c-other"):
        assert f'<a href="/milestones/{key}/">Title {key}</a>' in box
        assert f"(Basis {key})" in box
    assert "d-later" not in box
    assert html.count('class="milestone is-next"') == 3


def test_an_indicative_date_is_never_the_next_deadline(client, db, frozen):
    # given an indicative yearly report due tomorrow and a real deadline later
    MilestoneFactory(
        key="yearly-report",
        kind="recurring",
        every_months=12,
        date=dt.date(2025, 11, 28),
        indicative=True,
        confidence="low",
    )
    MilestoneFactory(key="real-deadline", title="Real deadline", date=dt.date(2026, 12, 2))

    response = client.get("/")

    timeline = response.context["timeline"]
    assert [e.milestone.key for e in timeline.next_entries] == ["real-deadline"]
    html = response.content.decode()
    assert 'Next deadline <span class="countdown-big">in 5 days</span>' in html
    assert '<li class="milestone" id="m-yearly-report">' in html  # listed, but not "next"
    assert "Indicative date</span>" in html


def test_with_only_indicative_dates_ahead_there_is_no_next_deadline_box(client, db, frozen):
    MilestoneFactory(
        key="yearly-report", kind="recurring", every_months=12, date=dt.date(2025, 12, 1),
        indicative=True,
    )  # fmt: skip

    response = client.get("/")

    assert response.context["timeline"].next_entries == []
    assert 'id="next-heading"' not in response.content.decode()


def test_deadlines_counted_in_hours_are_shown_in_hours(client, db):
    MilestoneFactory(
        key="rbi-24", title="Request authorisation", kind="relative", date=None,
        offset_hours=24, trigger="urgent_use", trigger_label="urgent use starts",
    )  # fmt: skip
    MilestoneFactory(
        key="one-day", kind="relative", date=None, offset_days=1, trigger="x", trigger_label="x"
    )

    timeline = client.get("/").content.decode()
    page = client.get(reverse("web:milestone", kwargs={"key": "rbi-24"})).content.decode()

    assert "<strong>Within 24 hours</strong> after urgent use starts." in timeline
    assert "<strong>Within 1 day</strong> after x." in timeline
    assert "Within <strong>24 hours</strong> after urgent use starts" in page
    big_date = page.split('class="big-date"')[1].split("</p>")[0]
    assert "day" not in big_date


def test_a_milestone_not_yet_verified_says_so(client, db):
    MilestoneFactory(key="unverified", verified_on=None)

    html = client.get(reverse("web:milestone", kwargs={"key": "unverified"})).content.decode()

    assert "<dt>Last verified</dt><dd>Not yet verified against its cited source</dd>" in html


def test_an_amended_milestone_shows_the_original_date_struck_through_and_the_amending_act(
    client, loaded_small_pack, frozen
):
    html = client.get("/").content.decode()

    assert '<del class="old-date" aria-label="originally 2 August 2026">' in html
    assert '<time datetime="2027-12-02">2 December 2027</time>' in html
    assert "Moved from 2 August 2026 by Regulation (EU) 2026/1744." in html


def test_recurring_milestones_show_their_next_occurrences(client, loaded_small_pack, frozen):
    html = client.get("/").content.decode()

    assert (
        '<time datetime="2028-08-02">2 August 2028</time>'
        '<span class="recurs">, every four years from 2028</span>'
    ) in html
    assert (
        'Then: <time datetime="2032-08-02">2 August 2032</time>, '
        '<time datetime="2036-08-02">2 August 2036</time>'
    ) in html


def test_relative_deadlines_are_listed_apart_with_their_offset(client, loaded_small_pack):
    response = client.get("/")

    assert [m.key for m in response.context["timeline"].relative] == ["test-incident"]
    assert (
        "<strong>Within 15 days</strong> after the provider becomes aware of a serious incident."
        in response.content.decode()
    )


@pytest.mark.parametrize(
    ("query", "keys"),
    [
        # a scope includes what concerns every AI system (scope "all")
        ("scope=high_risk_annex_iii", ["test-entry-into-force", "test-high-risk", "test-review"]),
        ("role=deployer", ["test-entry-into-force"]),
        ("category=review", ["test-review"]),
        ("role=provider&scope=all", ["test-entry-into-force", "test-review"]),
    ],
)
def test_filters_narrow_the_timeline(client, loaded_small_pack, query, keys):
    response = client.get(f"/?{query}")

    assert response.status_code == 200
    assert [e.milestone.key for e in response.context["timeline"].dated] == keys


def test_a_bad_filter_value_gets_a_clear_message_and_a_400(client, loaded_small_pack):
    response = client.get("/?role=pope")

    assert response.status_code == 400
    html = response.content.decode()
    assert "Select a valid choice. That choice is not one of the available choices." in html
    assert "Some filters are not valid" in html


def test_the_timeline_shows_the_default_regulation_and_others_on_request(client, db):
    MilestoneFactory(key="ai-act-thing", regulation=RegulationFactory())
    other = RegulationFactory(key="other", short_name="Other law")
    MilestoneFactory(key="other-thing", regulation=other)

    default = client.get("/")
    chosen = client.get("/?regulation=other")

    assert [e.milestone.key for e in default.context["timeline"].dated] == ["ai-act-thing"]
    assert [e.milestone.key for e in chosen.context["timeline"].dated] == ["other-thing"]
    assert "<h1>Other law timeline</h1>" in chosen.content.decode()


def test_a_milestone_has_its_own_page(client, loaded_small_pack, frozen):
    response = client.get(reverse("web:milestone", kwargs={"key": "test-high-risk"}))

    assert response.status_code == 200
    html = response.content.decode()
    assert "<h1>High-risk obligations apply</h1>" in html
    assert "<dd>Art. 113, second paragraph</dd>" in html
    assert "<del>2 August 2026</del>" in html
    assert 'href="https://example.org/omnibus"' in html
    assert '<span class="countdown">in 370 days</span>' in html


def test_an_unknown_milestone_is_a_404_page(client, db):
    response = client.get("/milestones/does-not-exist/")

    assert response.status_code == 404
    assert "There is no page at this address." in response.content.decode()


def _catalogue_of(size: int) -> None:
    """`size` milestones, half recurring, each with a role, a scope and an amendment."""
    bulk_catalogue(size)


@pytest.mark.parametrize("size", [10, 1000])
def test_the_timeline_runs_a_fixed_number_of_queries(client, django_assert_num_queries, size):
    _catalogue_of(size)

    # the catalogue stamp (a public page); default regulation; regulation and role lookups;
    # milestones, roles, scopes, amendments; the three select options (regulations, roles,
    # scopes)
    with django_assert_num_queries(11):
        response = client.get("/?role=provider")

    assert len(response.context["timeline"].dated) == size


@pytest.mark.parametrize("size", [10, 1000])
def test_the_milestone_page_runs_a_fixed_number_of_queries(client, django_assert_num_queries, size):
    _catalogue_of(size)
    url = reverse("web:milestone", kwargs={"key": Milestone.objects.last().key})

    # the catalogue stamp (a public page); milestone with its regulation, roles, scopes,
    # amendments, changes, duties
    with django_assert_num_queries(7):
        client.get(url)


@pytest.mark.parametrize("year", ["0", "10000", "-1", "99999999999999999999"])
def test_a_year_no_date_can_hold_is_a_400_with_the_message_on_the_page(
    client, loaded_small_pack, year
):
    response = client.get("/", {"year": year})

    assert response.status_code == 400
    html = response.content.decode()
    assert "Some filters in this address are not valid:" in html
    assert "<li>Year: Enter a year between 1 and 9999.</li>" in html
    assert 'href="/">Show the whole timeline</a>' in html


def test_a_year_in_the_address_still_narrows_the_timeline(client, loaded_small_pack):
    response = client.get("/", {"year": "2027"})

    assert response.status_code == 200
    assert [e.milestone.key for e in response.context["timeline"].dated] == ["test-high-risk"]


@pytest.mark.parametrize("query", ["?regulation=%00", "?regulation=test%00act", "?role=%00"])
def test_a_nul_character_in_a_public_address_is_a_4xx_not_a_500(client, loaded_small_pack, query):
    client.raise_request_exception = False

    page = client.get(f"/{query}")
    feed = client.get(f"/changes.atom{query}")

    assert page.status_code == 400
    assert feed.status_code == (404 if "regulation" in query else 200)
