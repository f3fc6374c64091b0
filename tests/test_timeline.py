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
    response = client.get("/")

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
        'Next: <time datetime="2028-08-02">2 August 2028</time>, '
        '<time datetime="2032-08-02">2 August 2032</time>, '
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
        ("scope=high_risk_annex_iii", ["test-high-risk"]),
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

    # default regulation; regulation and role lookups; milestones, roles, scopes, amendments;
    # the three select options (regulations, roles, scopes)
    with django_assert_num_queries(10):
        response = client.get("/?role=provider")

    assert len(response.context["timeline"].dated) == size


@pytest.mark.parametrize("size", [10, 1000])
def test_the_milestone_page_runs_a_fixed_number_of_queries(client, django_assert_num_queries, size):
    _catalogue_of(size)
    url = reverse("web:milestone", kwargs={"key": Milestone.objects.last().key})

    # milestone with its regulation, roles, scopes, amendments, changes
    with django_assert_num_queries(5):
        client.get(url)
