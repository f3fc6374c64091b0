"""Editing the catalogue in the Django admin: permissions, history, amendments."""

import datetime as dt

import pytest
from django.urls import reverse

from tracker.catalogue.models import Amendment, Milestone

pytestmark = pytest.mark.django_db


@pytest.fixture
def entry(loaded_small_pack):
    return Milestone.objects.get(key="test-entry-into-force")


@pytest.fixture
def high_risk(loaded_small_pack):
    return Milestone.objects.get(key="test-high-risk")


def _change_data(milestone, **changes):
    data = {
        "regulation": milestone.regulation_id,
        "key": milestone.key,
        "title": milestone.title,
        "summary": milestone.summary,
        "category": milestone.category,
        "roles": [r.pk for r in milestone.roles.all()],
        "scopes": [s.pk for s in milestone.scopes.all()],
        "kind": milestone.kind,
        "date": milestone.date or "",
        "date_precision": milestone.date_precision,
        "every_months": milestone.every_months or "",
        "until": "",
        "offset_days": milestone.offset_days if milestone.offset_days is not None else "",
        "trigger": milestone.trigger,
        "trigger_label": milestone.trigger_label,
        "legal_basis": milestone.legal_basis,
        "source_url": milestone.source_url,
        "source_title": milestone.source_title,
        "status": milestone.status,
        "confidence": milestone.confidence,
        "verified_on": milestone.verified_on or "",
        "explainer": milestone.explainer,
        "editor_note": milestone.editor_note,
        "amendments-TOTAL_FORMS": 0,
        "amendments-INITIAL_FORMS": milestone.amendments.count(),
        "amendments-MIN_NUM_FORMS": 0,
        "amendments-MAX_NUM_FORMS": 1000,
    }
    data.update(changes)
    return data


def _amend_url(milestone):
    return reverse("admin:catalogue_milestone_amend", args=[milestone.pk])


def test_an_editor_edits_a_milestone_and_the_edit_is_in_the_history(client, editor, entry):
    client.force_login(editor)

    response = client.post(
        reverse("admin:catalogue_milestone_change", args=[entry.pk]),
        _change_data(entry, title="Entry into force (corrected)"),
    )

    assert response.status_code == 302
    entry.refresh_from_db()
    assert entry.title == "Entry into force (corrected)"
    record = entry.history.first()
    assert (record.history_user, record.history_type) == (editor, "~")
    history = client.get(reverse("admin:catalogue_milestone_history", args=[entry.pk]))
    assert history.status_code == 200
    assert "Entry into force (corrected)" in history.content.decode()
    assert "editor" in history.content.decode()


def test_recording_an_amendment_is_one_form_that_moves_the_date_and_keeps_the_old_one(
    client, editor, entry
):
    client.force_login(editor)

    response = client.post(
        _amend_url(entry),
        {
            "new_date": "2025-01-15",
            "amending_act": "Regulation (EU) 2099/1",
            "source_url": "https://example.org/amending-act",
            "effective_on": "2024-12-01",
            "confidence": "medium",
            "note": "Test move",
        },
    )

    assert response.status_code == 302
    entry.refresh_from_db()
    assert (entry.date, entry.original_date) == (dt.date(2025, 1, 15), dt.date(2024, 8, 1))
    amendment = entry.amendments.get()
    assert (amendment.old_date, amendment.new_date, amendment.recorded_by) == (
        dt.date(2024, 8, 1), dt.date(2025, 1, 15), editor,
    )  # fmt: skip
    record = entry.history.first()
    assert record.history_change_reason == (
        "Amended by Regulation (EU) 2099/1: 2024-08-01 → 2025-01-15"
    )
    assert record.history_user == editor
    history = client.get(reverse("admin:catalogue_milestone_history", args=[entry.pk]))
    assert "Amended by Regulation (EU) 2099/1" in history.content.decode()


def test_a_second_amendment_keeps_the_first_original_date(client, editor, high_risk):
    client.force_login(editor)

    client.post(
        _amend_url(high_risk),
        {"new_date": "2028-06-01", "amending_act": "Regulation (EU) 2099/2",
         "source_url": "https://example.org/b", "confidence": "low"},
    )  # fmt: skip

    high_risk.refresh_from_db()
    assert (high_risk.original_date, high_risk.date) == (dt.date(2026, 8, 2), dt.date(2028, 6, 1))
    assert [(a.old_date, a.new_date) for a in high_risk.amendments.all()] == [
        (dt.date(2026, 8, 2), dt.date(2027, 12, 2)),
        (dt.date(2027, 12, 2), dt.date(2028, 6, 1)),
    ]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"new_date": "2024-08-01"}, "The new date is the date already in force."),
        ({"new_date": "someday"}, "Enter a valid date."),
        ({"source_url": "not a url"}, "Enter a valid URL."),
        ({"amending_act": ""}, "This field is required."),
    ],
)
def test_a_bad_amendment_gets_a_clear_message_and_changes_nothing(
    client, editor, entry, data, message
):
    client.force_login(editor)
    form = {"new_date": "2025-01-15", "amending_act": "Regulation (EU) 2099/1",
            "source_url": "https://example.org/a", "confidence": "high", **data}  # fmt: skip
    history_before = entry.history.count()

    response = client.post(_amend_url(entry), form)

    assert response.status_code == 200
    assert message in response.content.decode()
    entry.refresh_from_db()
    assert entry.date == dt.date(2024, 8, 1)
    assert entry.original_date is None
    assert Amendment.objects.filter(milestone=entry).count() == 0
    assert entry.history.count() == history_before


def test_staff_outside_the_editor_group_cannot_edit_or_amend(client, staff_outsider, entry):
    client.force_login(staff_outsider)

    change = client.post(
        reverse("admin:catalogue_milestone_change", args=[entry.pk]),
        _change_data(entry, title="Vandalised"),
    )
    amend = client.post(
        _amend_url(entry),
        {"new_date": "2030-01-01", "amending_act": "x", "source_url": "https://example.org",
         "confidence": "high"},
    )  # fmt: skip

    assert change.status_code == 403
    assert amend.status_code == 403
    entry.refresh_from_db()
    assert (entry.title, entry.date) == ("The Test Act enters into force", dt.date(2024, 8, 1))


def test_anonymous_visitors_are_sent_to_the_admin_login(client, entry):
    response = client.get(_amend_url(entry))

    assert response.status_code == 302
    assert response.url.startswith(reverse("admin:login"))


@pytest.mark.parametrize(
    "query",
    ["q=high-risk", "regulation__id__exact=1", "category__exact=application",
     "status__exact=in_force", "year=2027", "date__year=2027", "scopes__id__exact=1",
     "kind__exact=relative", "year=notayear"],
)  # fmt: skip
def test_the_changelist_searches_and_filters(client, admin_user, loaded_small_pack, query):
    client.force_login(admin_user)

    response = client.get(reverse("admin:catalogue_milestone_changelist") + "?" + query)

    assert response.status_code == 200


def test_the_year_filter_narrows_the_changelist(client, admin_user, loaded_small_pack):
    client.force_login(admin_user)

    response = client.get(reverse("admin:catalogue_milestone_changelist") + "?year=2027")

    assert [m.key for m in response.context["cl"].result_list] == ["test-high-risk"]


def test_the_change_form_offers_the_amendment_form(client, editor, entry):
    client.force_login(editor)

    html = client.get(reverse("admin:catalogue_milestone_change", args=[entry.pk])).content

    assert _amend_url(entry).encode() in html
    assert b"Record an amendment" in html
