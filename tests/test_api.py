"""The read-only milestones API under /api/v1/."""

import datetime as dt

import pytest
import time_machine
import yaml
from django.core.management import call_command

from tests.factories import UserFactory, bulk_catalogue
from tracker.catalogue.models import Milestone
from tracker.outbox.models import Message
from tracker.reminders.models import Subscription
from tracker.workspace.models import TrackedItem
from tracker.workspace.services import organisation_create

pytestmark = pytest.mark.django_db


def _by_key(response):
    return {item["key"]: item for item in response.json()["results"]}


def test_the_milestones_endpoint_returns_every_milestone_with_its_sourcing(
    client, loaded_small_pack
):
    response = client.get("/api/v1/milestones/")

    assert response.status_code == 200
    assert response.json()["count"] == 4
    item = _by_key(response)["test-high-risk"]
    assert {k: item[k] for k in (
        "key", "title", "regulation", "date", "original_date", "kind", "legal_basis",
        "source_url", "status", "category", "roles", "scopes", "confidence",
    )} == {
        "key": "test-high-risk",
        "title": "High-risk obligations apply",
        "regulation": "test-act",
        "date": "2027-12-02",
        "original_date": "2026-08-02",
        "kind": "fixed",
        "legal_basis": "Art. 113, second paragraph",
        "source_url": "https://example.org/test-act",
        "status": "in_force",
        "category": "application",
        "roles": ["provider"],
        "scopes": ["high_risk_annex_iii"],
        "confidence": "high",
    }  # fmt: skip
    assert item["amendments"][0]["amending_act"] == "Regulation (EU) 2026/1744"
    assert item["url"] == "http://testserver/milestones/test-high-risk/"


def test_recurring_milestones_expose_their_recurrence(client, loaded_small_pack):
    with time_machine.travel(dt.datetime(2026, 11, 27, 12, tzinfo=dt.UTC), tick=False):
        item = _by_key(client.get("/api/v1/milestones/"))["test-review"]

    assert item["recurrence"] == {
        "every_months": 48,
        "until": None,
        "next_occurrences": ["2028-08-02", "2032-08-02", "2036-08-02"],
    }
    assert item["trigger"] is None


def test_relative_milestones_expose_their_offset_and_trigger(client, loaded_small_pack):
    item = _by_key(client.get("/api/v1/milestones/"))["test-incident"]

    assert item["date"] is None
    assert item["offset_days"] == 15
    assert item["trigger"] == {
        "key": "serious_incident_awareness",
        "label": "the provider becomes aware of a serious incident",
        "offset_days": 15,
    }
    assert item["recurrence"] is None


def test_relative_milestones_come_after_the_dated_ones(client, loaded_small_pack):
    keys = [item["key"] for item in client.get("/api/v1/milestones/").json()["results"]]

    assert keys == ["test-entry-into-force", "test-high-risk", "test-review", "test-incident"]


@pytest.mark.parametrize(
    ("query", "keys"),
    [
        # a scope includes what concerns every AI system (scope "all")
        (
            "scope=high_risk_annex_iii",
            {"test-high-risk", "test-incident", "test-entry-into-force", "test-review"},
        ),
        ("role=deployer", {"test-entry-into-force"}),
        ("kind=relative", {"test-incident"}),
        ("amended=true", {"test-high-risk"}),
        ("year=2024", {"test-entry-into-force"}),
        ("regulation=test-act&category=review", {"test-review"}),
    ],
)
def test_the_endpoint_filters(client, loaded_small_pack, query, keys):
    response = client.get(f"/api/v1/milestones/?{query}")

    assert set(_by_key(response)) == keys


def test_one_milestone_by_key(client, loaded_small_pack):
    response = client.get("/api/v1/milestones/test-review/")

    assert response.status_code == 200
    assert response.json()["key"] == "test-review"
    assert client.get("/api/v1/milestones/nope/").status_code == 404


@pytest.mark.parametrize("query", ["role=pope", "year=soon", "category=x", "page=99"])
def test_bad_query_parameters_get_a_clear_4xx(client, loaded_small_pack, query):
    response = client.get(f"/api/v1/milestones/?{query}")

    assert response.status_code in (400, 404)
    assert response.json()


def test_the_api_is_read_only(client, loaded_small_pack):
    assert client.post("/api/v1/milestones/", {}).status_code == 405
    assert client.delete("/api/v1/milestones/test-review/").status_code == 405


@pytest.mark.parametrize("size", [10, 1000])
def test_the_milestones_endpoint_runs_a_fixed_number_of_queries(
    client, django_assert_num_queries, size
):
    bulk_catalogue(size)

    # the catalogue stamp (a public page); count, milestones with regulation, roles, scopes,
    # amendments, changes
    with django_assert_num_queries(7):
        response = client.get("/api/v1/milestones/?page_size=1000")

    assert len(response.json()["results"]) == size


def test_the_openapi_schema_is_generated_and_valid(tmp_path):
    out = tmp_path / "schema.yaml"

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))

    schema = yaml.safe_load(out.read_text())
    assert "/api/v1/milestones/" in schema["paths"]
    props = schema["components"]["schemas"]["Milestone"]["properties"]
    assert {"original_date", "recurrence", "trigger", "offset_days", "confidence"} <= set(props)
    assert "/api/v1/changes/" in schema["paths"]
    change = schema["components"]["schemas"]["Change"]["properties"]
    assert {"milestone", "kind", "origin", "changes", "old_date", "new_date"} <= set(change)
    assert "recorded_by" not in change
    assert props["changes"]["items"] == {"$ref": "#/components/schemas/Change"}
    params = {p["name"]: p for p in schema["paths"]["/api/v1/changes/"]["get"]["parameters"]}
    assert params["regulation"]["schema"] == params["milestone"]["schema"] == {"type": "string"}
    assert params["since"]["schema"] == {"type": "string", "format": "date-time"}


# Robust input: every bad value is a 400 or 404 with a message, never a 500 -----------------

YEAR_MESSAGE = "Enter a year between 1 and 9999."


@pytest.mark.parametrize(
    ("year", "message"),
    [("0", YEAR_MESSAGE), ("10000", YEAR_MESSAGE), ("-1", YEAR_MESSAGE),
     ("99999999999999999999", YEAR_MESSAGE), ("1.5", "Enter a whole number."),
     ("nan", "Enter a whole number.")],
)  # fmt: skip
def test_a_year_no_date_can_hold_is_a_400_with_a_message(client, loaded_small_pack, year, message):
    response = client.get("/api/v1/milestones/", {"year": year})

    assert response.status_code == 400
    assert response.json() == {"year": [message]}


def test_the_first_and_last_years_a_date_can_hold_are_answered(client, loaded_small_pack):
    assert client.get("/api/v1/milestones/?year=1").json()["count"] == 0
    assert client.get("/api/v1/milestones/?year=9999").json()["count"] == 0
    assert [m["key"] for m in client.get("/api/v1/milestones/?year=2027").json()["results"]] == [
        "test-high-risk"
    ]


@pytest.mark.parametrize("since", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_a_since_that_utc_cannot_hold_is_a_400_with_a_message(client, loaded_small_pack, since):
    response = client.get("/api/v1/changes/", {"since": since})

    assert response.status_code == 400
    assert response.json() == {"since": ["Enter a date and time between the years 1 and 9999."]}


@pytest.mark.parametrize(
    "url",
    ["/api/v1/milestones/", "/api/v1/changes/", "/api/v1/regulations/",
     "/api/v1/milestones/test-review/", "/api/v1/organisations/"],
)  # fmt: skip
@pytest.mark.parametrize("name", ["regulation", "role", "milestone", "since", "page", "zzz"])
def test_a_nul_character_in_a_query_parameter_is_a_400_naming_it(
    client, loaded_small_pack, admin_user, url, name
):
    client.force_login(admin_user)

    response = client.get(url, {name: "test\x00act"})

    assert response.status_code == 400
    assert response.json() == {name: [f"NUL characters are not allowed in {name}."]}


@pytest.mark.parametrize(
    "url",
    ["/api/v1/milestones/%00/", "/api/v1/regulations/test%00act/", "/api/v1/changes/1%00/"],
)
def test_a_nul_character_in_the_path_is_a_404(client, loaded_small_pack, url):
    response = client.get(url)

    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


@pytest.mark.parametrize(
    ("body", "where"),
    [({"email": "ada\x00@example.org", "regulation": "test-act"}, "email"),
     ({"email": "ada@example.org", "regulation": "test\x00act"}, "regulation"),
     ({"email": "ada@example.org", "regulation": "test-act", "roles": ["provider", "x\x00"]},
      "roles[1]"),
     ({"email": "ada@example.org", "milestones": ["test-review\x00"]}, "milestones[0]"),
     ({"email": "ada@example.org", "regulation": "test-act", "timezone": "Europe/\x00"},
      "timezone"),
     ({"email": "ada@example.org", "regulation": "test-act", "\x00": "x"}, "non_field_errors")],
)  # fmt: skip
def test_a_nul_character_in_a_json_body_is_a_400_and_nothing_is_written(
    client, loaded_small_pack, body, where
):
    response = client.post("/api/v1/subscriptions/", body, content_type="application/json")

    assert response.status_code == 400
    assert response.json() == {where: [f"NUL characters are not allowed in {where}."]}
    assert (Subscription.objects.count(), Message.objects.count()) == (0, 0)


def test_a_nul_character_in_a_form_body_is_a_400(client, loaded_small_pack):
    response = client.post(
        "/api/v1/subscriptions/", {"email": "ada@example.org", "regulation": ["test-act\x00"]}
    )

    assert response.status_code == 400
    assert response.json() == {"regulation": ["NUL characters are not allowed in regulation."]}


def test_subscribing_through_the_json_suffix_works_like_the_plain_address(
    client, loaded_small_pack
):
    body = {"email": "ada@example.org", "regulation": "test-act"}

    suffixed = client.post("/api/v1/subscriptions.json", body, content_type="application/json")
    empty = client.post("/api/v1/subscriptions.json", {}, content_type="application/json")

    assert suffixed.status_code == 202
    assert empty.status_code == 400
    assert empty.json() == {"email": ["This field is required."]}
    assert client.get("/api/v1/subscriptions.json").status_code == 405


@pytest.fixture
def owned_item(loaded_small_pack):
    """Olive's organisation and its item for the small pack's relative milestone."""
    olive = UserFactory(username="olive")
    org = organisation_create(name="Olive Co", owner=olive)
    item = TrackedItem.objects.create(
        organisation=org, milestone=Milestone.objects.get(key="test-incident"),
        reasons=[{"rule": "test", "article": "Art. 73", "text": "Incidents", "system": ""}],
    )  # fmt: skip
    return olive, item


def test_an_item_without_a_legal_date_says_null_as_its_schema_does(client, owned_item):
    olive, item = owned_item
    client.force_login(olive)

    response = client.get(f"/api/v1/organisations/olive-co/items/{item.pk}/")

    assert response.status_code == 200
    assert response.json()["legal_date"] is None


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [({"notes": "Plan\x00"}, "notes", "NUL characters are not allowed in notes."),
     ({"not_applicable_reason": "No\x00"}, "not_applicable_reason",
      "NUL characters are not allowed in not_applicable_reason."),
     ({"target_date": "9999-12-31"}, "target_date",
      "Choose a target date between 1 January 2000 and 31 December 2100.")],
)  # fmt: skip
def test_an_item_update_with_a_bad_value_is_a_400_and_changes_nothing(
    client, owned_item, change, field, message
):
    olive, item = owned_item
    client.force_login(olive)

    response = client.patch(
        f"/api/v1/organisations/olive-co/items/{item.pk}/", change, content_type="application/json"
    )

    assert response.status_code == 400
    assert response.json() == {field: [message]}
    item.refresh_from_db()
    assert (item.notes, item.not_applicable_reason, item.target_date) == ("", "", None)
