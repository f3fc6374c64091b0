"""The read-only milestones API under /api/v1/."""

import datetime as dt

import pytest
import time_machine
import yaml
from django.core.management import call_command

from tests.factories import bulk_catalogue

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
        ("scope=high_risk_annex_iii", {"test-high-risk", "test-incident"}),
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

    # count, milestones with regulation, roles, scopes, amendments, changes
    with django_assert_num_queries(6):
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
