"""The admin answers bad structured input with a message and changes nothing: every JSON field of
every admin change form (found from the registry, so a new one is covered) is sent the values
a hand could type, from the form the page itself offers."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.contrib import admin
from django.db import models
from django.urls import reverse
from django.utils import timezone

from tests.factories import acme_organisation
from tests.html_forms import form_fields
from tracker.catalogue.pack_load import catalogue_load_file
from tracker.reminders.models import Subscription
from tracker.webhooks.models import Endpoint
from tracker.webhooks.services import secret_new
from tracker.workspace.models import Incident

pytestmark = pytest.mark.django_db
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
OBLIGATIONS = FIXTURES / "obligations" / "eu-ai-act-obligations.yaml"

BAD_JSON = [
    "",  # emptied
    "null",
    "5",
    '"a string"',
    '{"a": 1}',
    "[1, 2",  # not JSON
    '["\\u0000"]',  # a NUL character
    "[" + ", ".join(["1"] * 5000) + "]",  # a very long list
    '[{"url": 1}]',
    "[-5, 100000]",
]


@pytest.fixture
def world(admin_user, officer, ai_act_catalogue):
    """One row of each model an admin form edits, so every change page can be opened."""
    org = acme_organisation(officer)
    catalogue_load_file(path=OBLIGATIONS)
    Subscription.objects.create(email="reader@example.org", status="active",
                                confirmed_at=timezone.now())  # fmt: skip
    Incident.objects.create(
        organisation=org, system=org.systems.get(), kinds=["general"], member_state="FI",
        aware_at=timezone.now() - dt.timedelta(hours=3), owner=officer,
    )  # fmt: skip
    Endpoint.objects.create(
        organisation=org, name="Hook", url="https://hooks.example.com/", secret=secret_new()
    )
    return org


def _json_fields() -> list[tuple[type[models.Model], str]]:
    """The JSON fields an admin change form lets a person type into."""
    return [
        (model, field.name)
        for model, model_admin in admin.site._registry.items()
        for field in model._meta.get_fields()
        if isinstance(field, models.JSONField) and field.editable and _typed(model_admin, field)
    ]


def _typed(model_admin, field) -> bool:
    shown = model_admin.fields is None or field.name in model_admin.fields
    return (
        shown
        and field.name not in model_admin.readonly_fields
        and field.name not in (model_admin.exclude or ())
        and model_admin.has_change_permission(_SUPERUSER_REQUEST)  # not a view-only admin
    )


_SUPERUSER_REQUEST = SimpleNamespace(
    user=SimpleNamespace(is_active=True, is_superuser=True, has_perm=lambda *args: True)
)


@pytest.mark.parametrize(
    ("model", "field"), _json_fields(), ids=lambda v: getattr(v, "__name__", v)
)
def test_bad_json_in_an_admin_form_gets_a_message_and_changes_nothing(
    client, admin_user, world, model, field
):
    obj = model._default_manager.order_by("pk").first()
    if obj is None:
        pytest.fail(f"the test world has no {model.__name__}: add one to the fixture")
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_change", args=[obj.pk])
    client.force_login(admin_user)
    page = client.get(url)
    assert page.status_code == 200
    data = form_fields(page.content.decode(), url)
    assert data is not None and field in data, f"{model.__name__}.{field} is not in the form"
    before = model._default_manager.filter(pk=obj.pk).values().get()

    for value in BAD_JSON:
        answer = client.post(url, {**data, field: [value]})

        assert answer.status_code < 500, (value[:40], answer.status_code)
        if answer.status_code == 200:  # refused: the page says why
            assert "Please correct the error" in answer.content.decode(), value[:40]
        else:  # accepted: only "empty" (emptied, or null), stored as an empty list or map
            after = model._default_manager.filter(pk=obj.pk).values().get()
            assert value in ("", "null") and after[field] in ([], {}), (value[:40], after[field])
            model._default_manager.filter(pk=obj.pk).update(**{field: before[field]})
