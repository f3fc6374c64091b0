"""The duties on the public milestone page (never the editors' notes, a fixed number of queries,
a phone's width) and their editing in the admin, held to the loader's validator."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest
from django.urls import reverse

from tests.html_forms import form_fields
from tracker.catalogue.models import Obligation
from tracker.catalogue.pack_load import catalogue_load_file
from tracker.catalogue.packs import PackError

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent
PACKS = Path(__file__).resolve().parent / "packs"
SMALL_OBLIGATIONS = PACKS / "obligations-small.yaml"
REAL_PACKS = [
    *sorted((ROOT / "fixtures").glob("*.yaml")),
    *sorted((ROOT / "fixtures" / "obligations").glob("*.yaml")),
]
HIGH_RISK_PAGE = "/milestones/test-high-risk/"
FRIA_NOTE = "Who counts as a public body is approximated by public_body."


@pytest.fixture
def small_duties(loaded_small_pack):
    return catalogue_load_file(path=SMALL_OBLIGATIONS)


def _add_duties(count: int) -> None:
    """More duties on test-high-risk, each with its own roles and a note."""
    template = Obligation.objects.get(key="test-risk-management")
    roles = ["importer", "distributor", "authorised_representative", "product_manufacturer"]
    Obligation.objects.bulk_create(
        Obligation(
            key=f"test-extra-{n}", milestone=template.milestone, article=f"Art. {30 + n}",
            roles=[roles[n % len(roles)]], title=f"Extra duty {n}", done_when="Done.",
            text="Quoted.", source_url=template.source_url, confidence="high",
            note=f"Editors only {n}.",
        )
        for n in range(count)
    )  # fmt: skip


def _text(page) -> str:
    return html.unescape(page.content.decode())


# The public page --------------------------------------------------------------------------


def test_the_milestone_page_lists_its_duties_with_who_what_and_the_source(client, small_duties):
    page = client.get(HIGH_RISK_PAGE)

    assert page.status_code == 200
    body = _text(page)
    duties = re.findall(r'<li class="item" id="duty-([a-z0-9-]+)">', body)
    assert duties == ["test-risk-management", "test-fria"]  # providers' duties first
    fria = body[body.index('id="duty-test-fria"') :]
    fria = fria[: fria.index("</li>")]
    assert "<h3>Fundamental rights impact assessment</h3>" in fria
    assert "Art. 27(1)" in fria
    assert '<span class="tag role">Deployers</span>' in fria  # the catalogue's word for the role
    assert "The assessment is done before first use and its results notified." in fria
    assert "Paraphrase: certain deployers assess the impact" in fria
    assert '<a href="https://example.org/test-act" rel="noopener external">Source' in fria
    assert "Medium confidence" in fria
    risk = body[body.index('id="duty-test-risk-management"') : body.index('id="duty-test-fria"')]
    assert '<blockquote cite="https://example.org/test-act"><p>A risk management system' in risk
    assert '<span class="tag role">Providers</span>' in risk


def test_the_milestone_page_never_shows_an_editors_note(client, small_duties):
    body = _text(client.get(HIGH_RISK_PAGE))

    assert "Fundamental rights impact assessment" in body
    assert FRIA_NOTE not in body


def test_a_milestone_without_duties_has_no_duties_section(client, small_duties):
    body = _text(client.get("/milestones/test-review/"))

    assert 'id="duties-heading"' not in body


def test_the_real_high_risk_page_shows_every_duty_and_none_of_the_notes(client, db):
    for path in REAL_PACKS:
        catalogue_load_file(path=path)
    milestone_key = "ai-act-high-risk-annex-iii-apply"
    duties = list(Obligation.objects.filter(milestone__key=milestone_key))

    body = _text(client.get(f"/milestones/{milestone_key}/"))

    assert len(duties) > 40
    shown = re.findall(r'<li class="item" id="duty-([a-z0-9-]+)">', body)
    assert sorted(shown) == sorted(d.key for d in duties)
    notes = [d.note for d in duties if d.note]
    assert notes
    for note in notes:
        assert note not in body


def test_the_milestone_page_runs_the_same_queries_for_two_duties_and_for_thirty(
    client, small_duties, django_assert_num_queries
):
    # The catalogue stamp (a public page); milestone and regulation, roles, scopes, amendments,
    # change log, duties, role names.
    with django_assert_num_queries(8):
        assert client.get(HIGH_RISK_PAGE).status_code == 200
    # No duties: no role names to read.
    with django_assert_num_queries(7):
        assert client.get("/milestones/test-review/").status_code == 200

    _add_duties(28)

    with django_assert_num_queries(8):
        page = client.get(HIGH_RISK_PAGE)
    body = _text(page)
    assert body.count('<li class="item" id="duty-') == 30
    assert "Editors only" not in body
    assert '<span class="tag role">authorised representative</span>' in body  # no Role row


# Editing in the admin ---------------------------------------------------------------------


def _change_url(obligation: Obligation) -> str:
    return reverse("admin:catalogue_obligation_change", args=[obligation.pk])


def _form(client, obligation: Obligation) -> dict:
    url = _change_url(obligation)
    data = form_fields(client.get(url).content.decode(), url)
    assert data is not None
    return data


def test_an_editor_edits_a_duty_and_the_edit_is_in_its_history(client, editor, small_duties):
    fria = Obligation.objects.get(key="test-fria")
    client.force_login(editor)
    data = _form(client, fria)

    response = client.post(
        _change_url(fria),
        {**data, "title": "FRIA", "when_any": json.dumps([{"public_body": [True]}]), "when": ""},
    )

    assert response.status_code == 302
    fria.refresh_from_db()
    assert (fria.title, fria.when_any, fria.when) == ("FRIA", [{"public_body": [True]}], {})
    record = fria.history.first()
    assert (record.history_user, record.history_type) == (editor, "~")
    history = client.get(reverse("admin:catalogue_obligation_history", args=[fria.pk]))
    assert history.status_code == 200
    assert "FRIA" in history.content.decode()


def test_an_editor_adds_a_duty_in_the_admin(client, editor, small_duties):
    client.force_login(editor)
    url = reverse("admin:catalogue_obligation_add")
    data = form_fields(client.get(url).content.decode(), url)
    milestone = Obligation.objects.get(key="test-fria").milestone
    data.update(
        key="test-human-oversight", milestone=milestone.pk, article="Art. 26(2)",
        title="Assign human oversight", roles='["deployer"]', when="",
        when_any="", unless='[{"risk_class": ["other"]}]', done_when="Named people oversee it.",
        text="Deployers shall assign human oversight.", source_url="example.org/test-act",
        confidence="high",
    )  # fmt: skip

    response = client.post(url, data)

    assert response.status_code == 302
    duty = Obligation.objects.get(key="test-human-oversight")
    assert (duty.when, duty.when_any, duty.unless) == ({}, [], [{"risk_class": ["other"]}])
    assert duty.source_url == "https://example.org/test-act"
    assert duty.history.get().history_user == editor
    assert "Assign human oversight" in _text(client.get(milestone.get_absolute_url()))


CONDITION_EDITS = {
    "contract name": ("when", {"risk": ["high_risk_annex_iii"]},
                      "risk_class: [high_risk_annex_iii]\n    when_any:",
                      "risk: [high_risk_annex_iii]\n    when_any:"),
    "unknown value": ("unless", [{"annex_iii_point": ["9z"]}], "- annex_iii_point: [2a]",
                      "- annex_iii_point: [9z]"),
    "unknown role": ("roles", ["deployer", "regulator"], "roles: [deployer]",
                     "roles: [deployer, regulator]"),
}  # fmt: skip


@pytest.mark.parametrize(
    ("field", "value", "old", "new"), CONDITION_EDITS.values(), ids=CONDITION_EDITS
)
def test_an_admin_edit_is_refused_with_the_loaders_message_and_changes_nothing(
    client, tmp_path, editor, small_duties, field, value, old, new
):
    # Given the loader's message for the same condition in a pack...
    edited = tmp_path / SMALL_OBLIGATIONS.name
    text = SMALL_OBLIGATIONS.read_text()
    assert old in text
    edited.write_text(text.replace(old, new))
    with pytest.raises(PackError) as caught:
        catalogue_load_file(path=edited, force=True)
    (problem,) = caught.value.problems
    message = problem.split(f"obligation 'test-fria': {field}: ", 1)[1]
    fria = Obligation.objects.get(key="test-fria")
    before = Obligation.objects.filter(pk=fria.pk).values().get()
    client.force_login(editor)

    # ...the admin form says the same words, under the same field.
    response = client.post(_change_url(fria), {**_form(client, fria), field: json.dumps(value)})

    assert response.status_code == 200
    body = _text(response)
    assert "Please correct the error" in body
    assert message in body, message
    assert Obligation.objects.filter(pk=fria.pk).values().get() == before


def test_the_change_form_lists_the_facts_an_editor_may_use(client, editor, small_duties):
    client.force_login(editor)

    body = _text(client.get(_change_url(Obligation.objects.get(key="test-fria"))))

    assert 'annex_i_section (A, B, "" (not recorded))' in body
    assert "public_body (true, false)" in body


def test_staff_outside_the_editor_group_cannot_edit_a_duty(client, staff_outsider, small_duties):
    fria = Obligation.objects.get(key="test-fria")
    client.force_login(staff_outsider)

    assert client.get(_change_url(fria)).status_code == 403
    assert client.get(reverse("admin:catalogue_obligation_changelist")).status_code == 403


def test_editors_may_add_change_delete_and_view_duties_as_they_do_milestones(editor):
    for action in ("add", "change", "delete", "view"):
        assert editor.has_perm(f"catalogue.{action}_milestone")
        assert editor.has_perm(f"catalogue.{action}_obligation"), action


@pytest.mark.parametrize(("query", "expected"), [
    ("role=deployer", ["test-fria"]),
    ("role=provider", ["test-incident-reporting", "test-risk-management"]),
    ("role=provider%22", ["test-fria", "test-incident-reporting", "test-risk-management"]),
    ("confidence__exact=medium", ["test-fria"]),
    ("q=life+cycle", ["test-risk-management"]),
    ("q=test-incident", ["test-incident-reporting"]),
])  # fmt: skip
def test_the_duty_list_filters_by_role_confidence_milestone_and_searches(
    client, editor, small_duties, query, expected
):
    client.force_login(editor)

    page = client.get(reverse("admin:catalogue_obligation_changelist") + "?" + query)

    assert page.status_code == 200
    assert sorted(o.key for o in page.context["cl"].result_list) == expected


def test_the_milestone_filter_offers_only_milestones_with_duties(client, editor, small_duties):
    client.force_login(editor)
    changelist = reverse("admin:catalogue_obligation_changelist")
    incident = Obligation.objects.get(key="test-incident-reporting").milestone

    page = client.get(f"{changelist}?milestone__id__exact={incident.pk}")

    assert [o.key for o in page.context["cl"].result_list] == ["test-incident-reporting"]
    body = _text(client.get(changelist))
    assert "Report a serious incident" in body
    assert "The Commission reviews the Act" not in body  # a milestone without duties


def test_verified_on_is_never_set_in_bulk(client, editor, small_duties):
    client.force_login(editor)

    page = client.get(reverse("admin:catalogue_obligation_changelist"))

    assert [name for name, _ in page.context["action_form"].fields["action"].choices] == [
        "",
        "delete_selected",
    ]
    assert page.context["cl"].list_editable == ()


# A phone, in Chromium ---------------------------------------------------------------------


@pytest.fixture
def site(live_server):
    """The live server with the real packs, duties included (written before Playwright starts,
    see tests/conftest.py)."""
    for path in REAL_PACKS:
        catalogue_load_file(path=path)
    return live_server.url + "/milestones/ai-act-high-risk-annex-iii-apply/"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_duties_read_on_a_375px_phone_and_open_from_the_keyboard(site, new_page):
    from axe_playwright_python.sync_playwright import Axe
    from playwright.sync_api import expect

    page = new_page(viewport={"width": 375, "height": 740}, is_mobile=True)
    page.goto(site)

    widths = page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert widths[0] <= widths[1], f"horizontal scroll at 375px: {widths}"
    expect(page.locator("#duties-heading")).to_have_text("Duties from this date")
    first = page.locator("li[id^='duty-']").first
    quote = first.locator("details > :not(summary)")
    expect(quote).to_be_hidden()
    first.locator("summary").focus()
    page.keyboard.press("Enter")
    expect(quote).to_be_visible()
    violations = [
        f"{v['id']} ({v['impact']})"
        for v in Axe().run(page).response["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert violations == []
