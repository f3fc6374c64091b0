"""The OpenAPI schema tells the truth: schemathesis over the whole API against a live server.

Every operation of /api/v1/schema/ is fuzzed, as an anonymous client and as the owner of an
organisation, with data that fits the schema and with data that does not, on real objects
(the small pack's milestones, an organisation with a system and items, one of them a relative
deadline with no legal date) and on made-up path parameters. Each answer must be no 5xx,
have a documented status code and content type, and a body valid against the schema of that
status. The operations are read from the schema itself, so a new endpoint is fuzzed without
editing this file. Hypothesis runs derandomised (the same examples every run) with a few
dozen examples per operation, to keep CI fast and stable.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import requests
import schemathesis
import yaml
from django.core.cache import cache
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from rest_framework.views import APIView
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.factories import UserFactory
from tracker.api.base import ApiView
from tracker.catalogue.models import Milestone, MilestoneChange, Regulation
from tracker.catalogue.pack_load import catalogue_load_file
from tracker.workspace.checker import KEYS as RULE_KEYS
from tracker.workspace.models import AISystem, TrackedItem
from tracker.workspace.services import organisation_create

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
EXAMPLES = {"real": 15, "negative": 10, "made_up": 5}
AI_ACT_PACK = Path(__file__).resolve().parent.parent / "fixtures" / "eu-ai-act.yaml"


def _operations() -> list[tuple[str, str]]:
    """(method, path) of every operation in the schema, read when the tests are collected."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return sorted(
        (method.upper(), path) for path, ops in schema["paths"].items() for method in ops
    )  # fmt: skip


OPERATIONS = _operations()


def _api_views(resolver=None, prefix=""):
    """(route, view class) of every route under /api/ in the URLconf."""
    for pattern in (resolver or get_resolver()).url_patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _api_views(pattern, route)
        elif isinstance(pattern, URLPattern) and route.lstrip("^").startswith("api/"):
            view = getattr(pattern.callback, "cls", None) or getattr(
                pattern.callback, "view_class", None
            )
            yield route, view


# The schema, unit by unit ---------------------------------------------------------------


def _schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


def test_every_api_view_guards_its_input_and_documents_its_errors():
    unguarded = {
        route
        for route, view in _api_views()
        if view is not None
        and issubclass(view, APIView)
        and not issubclass(view, ApiView)
        # drf-spectacular's own schema and docs views, and the router's index of links
        and view.__module__.split(".")[0] not in ("drf_spectacular", "rest_framework")
    }

    assert unguarded == set()


def test_a_relative_item_legal_date_and_other_absent_values_are_declared_nullable():
    components = _schema()["components"]["schemas"]

    assert components["Item"]["properties"]["legal_date"]["nullable"] is True
    assert components["Item"]["properties"]["owner"]["nullable"] is True
    assert components["Milestone"]["properties"]["date"]["nullable"] is True
    assert components["ObligationOut"]["properties"]["date"]["nullable"] is True
    assert components["Change"]["properties"]["old_date"]["nullable"] is True


def test_every_operation_documents_its_error_answers_with_their_bodies():
    schema = _schema()
    paths = schema["paths"]
    validation = "#/components/schemas/ValidationErrors"
    detail = "#/components/schemas/ErrorDetail"

    def body(path, method, code):
        return paths[path][method]["responses"][code]["content"]["application/json"]["schema"]

    for path, ops in paths.items():
        for method, op in ops.items():
            assert "400" in op["responses"], (method, path)
    assert body("/api/v1/milestones/", "get", "400") == {"$ref": validation}
    assert body("/api/v1/milestones/{key}/", "get", "404") == {"$ref": detail}
    assert body("/api/v1/subscriptions/", "post", "429") == {"$ref": detail}
    assert body("/api/v1/subscriptions/", "post", "403") == {"$ref": detail}  # CSRF
    assert "429" in paths["/api/v1/applicability/"]["post"]["responses"]
    assert body("/api/v1/organisations/{slug}/items/", "get", "403") == {"$ref": detail}
    assert body("/api/v1/organisations/{slug}/items/{id}/", "patch", "404") == {"$ref": detail}
    assert "429" not in paths["/api/v1/milestones/"]["get"]["responses"]
    assert "403" not in paths["/api/v1/milestones/"]["get"]["responses"]
    assert schema["components"]["schemas"]["ErrorDetail"]["required"] == ["detail"]
    year = next(p for p in paths["/api/v1/milestones/"]["get"]["parameters"] if p["name"] == "year")
    assert year["schema"] == {"type": "integer", "minimum": 1, "maximum": 9999}


# The whole API against a live server --------------------------------------------------------


@pytest.fixture
def world(live_server, loaded_small_pack):
    """The live server with the small pack, and Olive's organisation with a system and an
    item per milestone (the relative one has no legal date)."""
    cache.clear()  # the throttles count in the cache, which outlives a test's data
    owner = UserFactory(username="olive")
    org = organisation_create(name="Schema Co", owner=owner)
    system = AISystem.objects.create(
        organisation=org, name="Screener", roles=["provider"], risk_class="high_risk_annex_iii",
        annex_iii_point="4a", placed_on_market=dt.date(2027, 1, 4),
    )  # fmt: skip
    items = [
        TrackedItem.objects.create(
            organisation=org,
            milestone=m,
            reasons=[{"rule": "schema", "article": "Art. 1", "text": "Fuzzed", "system": ""}],
        )
        for m in Milestone.objects.order_by("key")
    ]
    incident_item = next(i for i in items if i.milestone.date is None)
    client = Client()
    client.force_login(owner)
    return {
        "url": live_server.url,
        "session": client.cookies["sessionid"].value,
        "real": {
            "key": Milestone.objects.order_by("key").first().key,
            "id": {
                "changes": MilestoneChange.objects.order_by("pk").first().pk,
                "items": incident_item.pk,
                "systems": system.pk,
            },
            "regulation": Regulation.objects.get().key,
            "slug": org.slug,
        },
    }


@pytest.fixture
def rules_pack(tmp_path, world):
    """The AI Act pack cut down to the milestones the applicability rules read: enough for
    POST /applicability/ to answer, a third of the load time of the whole pack."""
    pack = yaml.safe_load(AI_ACT_PACK.read_text())
    pack["milestones"] = [m for m in pack["milestones"] if m["key"] in set(RULE_KEYS)]
    path = tmp_path / "ai-act-rules.yaml"
    path.write_text(yaml.safe_dump(pack, allow_unicode=True))
    catalogue_load_file(path=path)


def _session(world, actor: str) -> requests.Session:
    session = requests.Session()
    if actor == "owner":
        session.cookies.set("sessionid", world["session"])
        session.get(f"{world['url']}/accounts/login/", timeout=10)  # sets the CSRF cookie
        session.headers["X-CSRFToken"] = session.cookies["csrftoken"]
    return session


def _real_path_parameters(path: str, real: dict) -> dict:
    values = {}
    if "{key}" in path:
        values["key"] = (
            real["regulation"] if path.startswith("/api/v1/regulations/") else real["key"]
        )
    if "{slug}" in path:
        values["slug"] = real["slug"]
    if "{id}" in path:
        values["id"] = next(v for k, v in real["id"].items() if f"/{k}/" in path)
    return values


def _fuzz(operation, session, base_url, mode, examples, path_parameters=None):
    @settings(
        max_examples=examples, deadline=None, database=None, derandomize=True,
        suppress_health_check=list(HealthCheck),
    )  # fmt: skip
    @given(case=operation.as_strategy(generation_mode=mode, path_parameters=path_parameters))
    def run(case):
        case.call_and_validate(base_url=base_url, session=session, checks=CHECKS, timeout=20)

    try:
        run()
    except Unsatisfiable:  # nothing to make invalid (a GET whose path is given): nothing to do
        if mode is not GenerationMode.NEGATIVE:
            raise


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
@pytest.mark.django_db(transaction=True)
def test_the_api_answers_as_its_schema_says(request, world, method, path):
    if path == "/api/v1/applicability/":
        request.getfixturevalue("rules_pack")
    base_url = world["url"]
    schema = schemathesis.openapi.from_url(f"{base_url}/api/v1/schema/?format=json")
    operation = schema[path][method.upper()]
    real = _real_path_parameters(path, world["real"]) or None

    for actor in ("anonymous", "owner"):
        session = _session(world, actor)
        _fuzz(operation, session, base_url, GenerationMode.POSITIVE, EXAMPLES["real"], real)
        _fuzz(operation, session, base_url, GenerationMode.NEGATIVE, EXAMPLES["negative"], real)
        if real:  # and with path parameters nobody has: 404s, documented
            _fuzz(operation, session, base_url, GenerationMode.POSITIVE, EXAMPLES["made_up"])
