"""The public checker: the questionnaire, its permalink, and saving the answers to a workspace.

The real packs are loaded (`ai_act_catalogue`); `catalogue` adds the cut-offs the rules need
that fixtures/eu-ai-act.yaml may not have yet, so the tests do not depend on the pack's timing.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.contrib.staticfiles import finders
from django.test import Client

from tests.duty_support import obligations_load
from tests.factories import UserFactory
from tracker.catalogue.models import Milestone
from tracker.outbox.models import Message
from tracker.workspace import applicability as law
from tracker.workspace.checker import applicability_answer
from tracker.workspace.facts import facts_parse
from tracker.workspace.facts_links import facts_link_encode
from tracker.workspace.models import AISystem, Membership, Organisation, TrackedItem

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 11, 29)
ANNEX_III_APPLY = "ai-act-high-risk-annex-iii-apply"
# Cut-offs the rules read that the pack may still lack: key -> (milestone to copy, date).
CUTOFFS_TO_CREATE = {
    law.LEGACY_ANNEX_I: (law.LEGACY_ANNEX_III, dt.date(2028, 8, 2)),  # Art. 111(2) as replaced
}
CV_SCREENER = {"name": "CV screener", "roles": ["provider"], "risk": "high_risk_annex_iii",
               "annex_iii_point": "4a"}  # fmt: skip


@pytest.fixture(autouse=True)
def _today(time_machine):
    time_machine.move_to(dt.datetime(2026, 11, 29, 10, 0, tzinfo=dt.UTC), tick=False)


def cutoffs_complete() -> list[str]:
    """Create the cut-offs the loaded packs lack; return the keys it had to create."""
    created = []
    for key, (model_key, date) in CUTOFFS_TO_CREATE.items():
        if Milestone.objects.filter(key=key).exists():
            continue
        model = Milestone.objects.get(key=model_key)
        roles, scopes = list(model.roles.all()), list(model.scopes.all())
        model.pk, model.key, model.date = None, key, date
        model._state.adding = True
        model.save()
        model.roles.set(roles)
        model.scopes.set(scopes)
        created.append(key)
    assert not [key for key in law.CUTOFFS if not Milestone.objects.filter(key=key).exists()]
    return created


@pytest.fixture
def catalogue(ai_act_catalogue) -> list[str]:
    """The real packs, plus the cut-offs they lack (the keys it had to create)."""
    return cutoffs_complete()


def system_data(n: int, **answers) -> dict:
    """The POST fields of system `n` (0-based) of the questionnaire."""
    return {f"systems-{n}-{name}": value for name, value in answers.items()}


def questionnaire(*systems: dict, action: str = "check", **company) -> dict:
    data = {
        "systems-TOTAL_FORMS": str(len(systems)), "systems-INITIAL_FORMS": "0",
        "systems-MIN_NUM_FORMS": "0", "systems-MAX_NUM_FORMS": "50", "action": action,
        "company-established_in_eu": "yes", "company-public_body": "no",
        "company-provides_public_services": "no",
        **{f"company-{name}": value for name, value in company.items()},
    }  # fmt: skip
    for n, answers in enumerate(systems):
        data.update(system_data(n, **answers))
    return data


def token(payload: dict) -> str:
    return facts_link_encode(payload)


def result_url(payload: dict) -> str:
    return f"/check/result/?{urlencode({'f': token(payload)})}"


def answer_for(payload: dict) -> dict:
    company, as_of = facts_parse(payload, today=TODAY)
    return applicability_answer(company=company, as_of=as_of)


def row_ids(html: str) -> list[str]:
    return re.findall(r'<tr id="o-([a-z0-9-]+)"', html)


def row(html: str, key: str) -> str:
    match = re.search(rf'<tr id="o-{re.escape(key)}".*?</tr>', html, re.S)
    assert match, f"no row for {key}"
    return match.group(0)


# The questionnaire ------------------------------------------------------------------------


def test_the_questionnaire_asks_about_the_company_and_one_system_with_the_articles(client):
    response = client.get("/check/")

    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="systems-TOTAL_FORMS" value="1"' in html
    assert html.count('class="system"') == 1
    for question in ("Is the company established in the EU?", "Is it a body governed by public "
                     "law?", "Is it a private entity providing public services?"):  # fmt: skip
        assert question in html
    # Help texts quote or paraphrase the article behind each question
    for article in ("Art. 3(3)", "Art. 3(4)", "Art. 6(3)", "Art. 27(1)", "Art. 50(1)",
                    "Art. 53(2)", "Art. 25(1)", "Art. 111(2)", "Art. 5(1)"):  # fmt: skip
        assert article in html, article
    assert "I don&#x27;t know" in html
    assert "we read it as Section A, the stricter regime" in html
    # Labels and help are tied to their inputs
    assert '<label for="id_systems-0-name">Name</label>' in html
    assert 'aria-describedby="id_systems-0-name_helptext"' in html
    assert 'id="id_systems-0-roles_1" aria-describedby="id_systems-0-roles_1_hint"' in html
    assert "Remove" not in html  # one system: nothing to remove
    assert ">Add another system</button>" in html


def test_a_cv_screener_provider_is_sent_to_a_permalink_listing_what_applies(client, catalogue):
    response = client.post("/check/", questionnaire(CV_SCREENER))

    assert response.status_code == 303
    assert response["Location"] == result_url({"systems": [CV_SCREENER]})
    page = client.get(response["Location"])
    assert page.status_code == 200
    html = page.content.decode()
    expected = answer_for({"systems": [CV_SCREENER]})
    assert row_ids(html) == [r["milestone"] for r in expected["obligations"]]
    assert len(row_ids(html)) == len(expected["obligations"]) > 10
    annex_iii = row(html, ANNEX_III_APPLY)
    assert '<time datetime="2027-12-02">2 December 2027</time>' in annex_iii
    assert f'href="/milestones/{ANNEX_III_APPLY}/"' in annex_iii
    assert ">CV screener</td>" in annex_iii
    [reason] = next(
        r["reasons"] for r in expected["obligations"] if r["milestone"] == ANNEX_III_APPLY
    )
    assert "Provider of “CV screener”, high-risk under Annex III point 4(a)" in reason
    assert reason in annex_iii
    assert f"catalogue version {expected['catalogue_version']}" in html
    assert '<time datetime="2026-11-29">29 November 2026</time>' in html


def test_the_permalink_holds_the_answers_as_compact_base64url_json(client, catalogue):
    response = client.post("/check/", questionnaire(CV_SCREENER))

    f = parse_qs(urlsplit(response["Location"]).query)["f"][0]
    assert re.fullmatch(r"[A-Za-z0-9_-]+", f)
    decoded = json.loads(base64.urlsafe_b64decode(f + "=" * (-len(f) % 4)))
    assert decoded == {"systems": [CV_SCREENER]}  # defaults left out


def test_obligations_counted_from_an_event_come_last_and_say_so(client, catalogue):
    html = client.get(result_url({"systems": [CV_SCREENER]})).content.decode()

    ids = row_ids(html)
    relative = [key for key in ids if "is-relative" in row(html, key)]
    assert relative == ids[-len(relative) :]
    assert "ai-act-serious-incident-report-15-days" in relative
    assert "Counted from an event" in row(html, "ai-act-serious-incident-report-15-days")


def test_the_result_lists_the_duties_each_milestone_brings(client, catalogue):
    obligations_load(only={ANNEX_III_APPLY})

    html = client.get(result_url({"systems": [CV_SCREENER]})).content.decode()

    annex_iii = row(html, ANNEX_III_APPLY)
    assert re.search(r"<summary>\d+ duties</summary>", annex_iii)
    assert '<span class="legal-basis">Art. 9</span>' in annex_iii  # risk management, first
    assert annex_iii.index("Art. 9<") < annex_iii.index("Art. 10<") < annex_iii.index("Art. 72")
    # a milestone the pack lists no duty for stays its own one duty, with no list
    assert "<details" not in row(html, "ai-act-penalties-apply")


def test_the_result_links_to_change_save_and_json(client, catalogue):
    f = token({"systems": [CV_SCREENER]})
    html = client.get(result_url({"systems": [CV_SCREENER]})).content.decode()

    assert f'<a href="/check/?f={f}">Change the answers</a>' in html
    assert f'<a href="/w/import/?f={f}">Save to my workspace</a>' in html
    assert '<a href="#as-json">Get this as JSON</a>' in html
    assert "POST /api/v1/applicability/" in html
    assert "http://testserver/api/v1/applicability/" in html


def test_change_the_answers_prefills_the_questionnaire_from_the_link(client):
    payload = {"company": {"public_body": True}, "systems": [
        CV_SCREENER,
        {"name": "Chatbot", "roles": ["deployer"], "risk": "annex_iii_not_high_risk",
         "art50": ["interacts"], "placed_on_market": "2025-03-01"},
    ]}  # fmt: skip

    response = client.get(f"/check/?f={token(payload)}")

    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="systems-TOTAL_FORMS" value="2"' in html
    assert 'value="CV screener"' in html and 'value="Chatbot"' in html
    assert re.search(r'name="company-public_body" value="yes" id="[\w-]+" checked', html)
    assert re.search(r'name="systems-0-risk" value="high_risk_annex_iii" id="[\w-]+" checked', html)
    assert 'value="2025-03-01"' in html
    # An Annex III answer with no point comes back as "I don't know"
    assert re.search(r'name="systems-1-annex_iii_point".*?<option value="unknown" selected>',
                     html, re.S)  # fmt: skip


# Adding and removing systems, without JavaScript -----------------------------------------


def test_add_another_system_re_renders_the_answers_with_one_more_system(client):
    response = client.post("/check/", questionnaire(CV_SCREENER, action="add"))

    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="systems-TOTAL_FORMS" value="2"' in html
    assert html.count('class="system"') == 2
    assert 'value="CV screener"' in html
    assert re.search(r'name="systems-0-roles" value="provider" id="[\w-]+" checked', html)
    assert 'name="systems-1-name"' in html
    assert "error-summary" not in html  # adding validates nothing
    assert '>Remove<span class="visually-hidden"> system 2</span>' in html
    assert Organisation.objects.count() == 0


def test_remove_takes_out_that_system_and_keeps_the_others_in_order(client):
    data = questionnaire({"name": "A"}, {"name": "B"}, {"name": "C", "gpai_model": "on"},
                         action="remove-1")  # fmt: skip

    response = client.post("/check/", data)

    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="systems-TOTAL_FORMS" value="2"' in html
    assert re.findall(r'name="systems-(\d)-name"[^>]*value="(\w)"', html) == [
        ("0", "A"),
        ("1", "C"),
    ]
    assert "checked" in re.search(r'<input[^>]*name="systems-1-gpai_model"[^>]*>', html).group(0)


def test_the_last_system_cannot_be_removed_and_no_more_than_50_can_be_added(client):
    one = client.post("/check/", questionnaire({"name": "A"}, action="remove-0"))
    full = client.post("/check/", questionnaire(*({"name": f"S{n}"} for n in range(50)),
                                                 action="add"))  # fmt: skip

    assert 'name="systems-TOTAL_FORMS" value="1"' in one.content.decode()
    html = full.content.decode()
    assert 'name="systems-TOTAL_FORMS" value="50"' in html
    assert "Add another system" not in html
    assert "50 systems at most" in html


# Errors ----------------------------------------------------------------------------------


def test_invalid_answers_are_shown_next_to_their_fields_with_a_summary_and_nothing_stored(client):
    data = questionnaire(
        CV_SCREENER,
        {"name": "", "risk": "other", "annex_iii_point": "4a", "systemic_risk": "on"},
    )

    response = client.post("/check/", data)

    assert response.status_code == 400
    html = response.content.decode()
    summary = re.search(r'<div class="error-summary".*?</div>', html, re.S).group(0)
    assert 'href="#id_systems-1-name"' in summary
    assert 'href="#id_systems-1-roles_0"' in summary  # a group links to its first option
    assert 'href="#id_systems-1-annex_iii_point"' in summary
    assert 'href="#id_systems-1-systemic_risk"' in summary
    assert "System 1" not in summary  # the first system is fine
    # Inline, next to the field, and tied to it
    assert re.search(r'id="id_systems-1-name_error"><p>Give the system a name', html)
    assert "Tick at least one role." in html
    assert "Only for “High-risk, Annex III (Art. 6(2))” or “In an Annex III area" in html
    assert 'aria-describedby="id_systems-1-name_helptext id_systems-1-name_error"' in html
    assert 'aria-invalid="true"' in html
    # The answers stay as typed
    assert 'value="CV screener"' in html
    assert Organisation.objects.count() == AISystem.objects.count() == 0


def test_two_systems_with_one_name_are_reported_for_the_systems_as_a_whole(client):
    response = client.post("/check/", questionnaire(CV_SCREENER, CV_SCREENER))

    assert response.status_code == 400
    assert '<a href="#systems">Give each system its own name.</a>' in response.content.decode()


def test_a_date_that_cannot_be_read_is_an_inline_error(client):
    response = client.post(
        "/check/", questionnaire({**CV_SCREENER, "placed_on_market": "2027-13-45"})
    )

    assert response.status_code == 400
    html = response.content.decode()
    assert 'href="#id_systems-0-placed_on_market"' in html
    assert 'id="id_systems-0-placed_on_market_error"' in html


def test_a_date_outside_the_contract_is_reported_by_the_one_validator(client):
    response = client.post(
        "/check/", questionnaire({**CV_SCREENER, "placed_on_market": "1980-01-01"})
    )

    assert response.status_code == 400
    assert "between 1990 and 2100" in response.content.decode()


def test_a_tampered_form_is_a_400_not_an_error(client):
    data = questionnaire(CV_SCREENER)
    missing = {k: v for k, v in data.items() if not k.startswith("systems-") or "-0-" in k}
    too_many = {**data, "systems-TOTAL_FORMS": "60"}

    assert client.post("/check/", missing).status_code == 400
    response = client.post("/check/", too_many)
    assert response.status_code == 400
    assert "at most 50" in response.content.decode()


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode()


BAD_LINKS = {
    "empty": "",
    "not base64url": "eyJzeXN0ZW1zIjpbXX0=!",
    "cut short": "a",
    "not json": _b64("hello"),
    "not utf-8": base64.urlsafe_b64encode(b"\xff\xfe\xfd").decode().rstrip("="),
    "deeply nested": _b64("[" * 100_000 + "]" * 100_000)[:60_000],
    "too long": "A" * 70_000,
    "json of the wrong shape": _b64("[1, 2]"),
    "unknown role": _b64(json.dumps({"systems": [{**CV_SCREENER, "roles": ["king"]}]})),
    "51 systems": _b64(
        json.dumps({"systems": [{**CV_SCREENER, "name": f"S{n}"} for n in range(51)]})
    ),
}


@pytest.mark.parametrize("f", BAD_LINKS.values(), ids=BAD_LINKS.keys())
@pytest.mark.parametrize("page", ["/check/result/", "/check/"])
def test_a_damaged_or_tampered_link_is_a_400_with_a_clear_message(client, f, page):
    response = client.get(page, {"f": f})

    assert response.status_code == 400
    html = response.content.decode()
    assert "<h1>This link cannot be read</h1>" in html
    assert '<a href="/check/">Answer the questions again</a>' in html


def test_a_deeply_nested_link_that_decodes_is_refused_too(client):
    f = _b64("[" * 30_000 + "]" * 30_000)

    response = client.get("/check/result/", {"f": f})

    assert response.status_code == 400


def test_without_the_ai_act_pack_the_result_is_unavailable_not_an_error(client, db):
    response = client.get(result_url({"systems": [CV_SCREENER]}))

    assert response.status_code == 503
    assert "The catalogue is being updated" in response.content.decode()


# Saving to a workspace -------------------------------------------------------------------


@pytest.fixture
def ada(db):
    return UserFactory(username="ada")


def import_url(payload: dict) -> str:
    return f"/w/import/?{urlencode({'f': token(payload)})}"


def test_saving_asks_an_anonymous_visitor_to_sign_up_and_come_back(client):
    url = import_url({"systems": [CV_SCREENER]})

    response = client.get(url)

    assert response.status_code == 302
    target = urlsplit(response["Location"])
    assert target.path == "/accounts/signup/"
    assert parse_qs(target.query)["next"] == [url]
    # Signing up follows `next` back to the import
    signup = client.post(f"/accounts/signup/?{target.query}", {
        "email": "ada@example.org",
        "password1": "a long enough passphrase", "password2": "a long enough passphrase",
        "next": url,
    })  # fmt: skip
    assert signup.status_code == 302
    verify = Message.objects.get(kind="verify_email", to_email="ada@example.org")
    confirmed = client.post(re.search(r"/accounts/verify/\S+/", verify.body_text).group(0))
    assert confirmed["Location"] == url


def test_the_import_page_confirms_the_name_and_shows_the_systems(client, ada):
    client.force_login(ada)

    response = client.get(import_url({"systems": [CV_SCREENER]}))

    assert response.status_code == 200
    html = response.content.decode()
    assert 'value="My company"' in html
    assert "<td>CV screener</td><td>Provider</td>" in html
    assert "High-risk, Annex III (Art. 6(2)), point 4(a) Recruitment and selection" in html
    assert Organisation.objects.count() == 0  # GET saves nothing


def test_saving_creates_the_organisation_its_facts_systems_and_tracked_items(
    client, ada, catalogue
):
    payload = {"company": {"public_body": True}, "systems": [
        {**CV_SCREENER, "placed_on_market": "2028-01-10", "art50": ["interacts"]},
        {"name": "Writer", "roles": ["deployer"], "risk": "other", "art50": ["deep_fake"],
         "gpai_model": True, "systemic_risk": True},
    ]}  # fmt: skip
    client.force_login(ada)

    response = client.post(import_url(payload), {"name": "Acme AI"})

    assert response.status_code == 302
    assert response["Location"] == "/w/acme-ai/"
    org = Organisation.objects.get()
    assert (org.name, org.established_in_eu, org.public_body, org.provides_public_services) == (
        "Acme AI", True, True, False)  # fmt: skip
    assert Membership.objects.get(organisation=org).user == ada
    assert Membership.objects.get(organisation=org).role == "owner"
    cv, writer = org.systems.order_by("name")
    assert (cv.name, cv.roles, cv.risk_class, cv.annex_iii_point, cv.art50, cv.placed_on_market,
            cv.is_gpai_model) == ("CV screener", ["provider"], "high_risk_annex_iii", "4a",
                                  ["interacts"], dt.date(2028, 1, 10), False)  # fmt: skip
    assert (writer.roles, writer.risk_class, writer.is_gpai_model, writer.gpai_systemic_risk,
            writer.art50) == (["deployer"], "other", True, True, ["deep_fake"])  # fmt: skip
    # Every milestone of the answer is tracked: as a whole, or duty by duty when the catalogue
    # lists its duties (tests/test_duties.py checks which); nothing else, nothing stopped.
    expected = answer_for(payload)["obligations"]
    items = TrackedItem.objects.filter(organisation=org, applies=True)
    assert set(items.values_list("milestone__key", flat=True)) == {r["milestone"] for r in expected}
    whole = items.filter(obligation__isnull=True).values_list("milestone__key", flat=True)
    assert len(whole) == len(set(whole))
    assert items.count() == TrackedItem.objects.count()
    assert items.filter(milestone__key=ANNEX_III_APPLY).exists()


def test_an_invalid_link_imports_nothing(client, ada):
    client.force_login(ada)
    url = f"/w/import/?f={_b64(json.dumps({'systems': [{'name': 'x'}]}))}"

    assert client.get(url).status_code == 400
    response = client.post(url, {"name": "Acme AI"})

    assert response.status_code == 400
    assert "This link cannot be read" in response.content.decode()
    assert Organisation.objects.count() == 0


def test_saving_needs_a_name_and_a_csrf_token(client, ada, catalogue):
    url = import_url({"systems": [CV_SCREENER]})
    client.force_login(ada)
    guarded = Client(enforce_csrf_checks=True)
    guarded.force_login(ada)

    assert client.post(url, {"name": ""}).status_code == 400
    assert guarded.post(url, {"name": "Acme AI"}).status_code == 403
    assert Organisation.objects.count() == AISystem.objects.count() == 0


# Links, print, phones --------------------------------------------------------------------


def test_the_home_page_and_the_navigation_link_to_the_checker(client, catalogue):
    html = client.get("/").content.decode()

    assert ('<p class="cta"><a href="/check/"><strong>What does the AI Act ask of us?</strong> '
            "Check in 5 minutes</a></p>") in html  # fmt: skip
    assert '<li><a href="/check/">AI Act check</a></li>' in html
    assert (
        '<a href="/check/" aria-current="page">AI Act check</a>'
        in client.get("/check/").content.decode()
    )


def test_the_print_stylesheet_hides_navigation_and_buttons_and_keeps_the_table(client, catalogue):
    css = Path(finders.find("web/jalon.css")).read_text()
    html = client.get(result_url({"systems": [CV_SCREENER]})).content.decode()

    print_css = css[css.index("@media print") :]
    for hidden in (".site-header", ".no-print", "button", ".check-actions"):
        assert hidden in print_css.split("}")[0]
    assert "table.obligations thead { display: table-header-group; }" in print_css
    # The phone layout that turns rows into cards is for screens only
    assert "@media screen and (max-width: 47.99rem)" in css
    assert '<ul class="check-actions no-print">' in html
    assert '<section id="as-json" aria-labelledby="as-json-heading" class="no-print">' in html
    assert '<table class="obligations">' in html and "<thead>" in html


# Query counts ----------------------------------------------------------------------------


def _systems(n: int) -> list[dict]:
    return [{**CV_SCREENER, "name": f"System {i}", "art50": ["interacts"]} for i in range(n)]


@pytest.mark.parametrize("n", [1, 50])
def test_the_result_page_runs_a_fixed_number_of_queries(
    client, catalogue, django_assert_num_queries, n
):
    url = result_url({"systems": _systems(n)})

    with django_assert_num_queries(3):  # the catalogue's milestones, its obligations, its version
        response = client.get(url)

    assert response.status_code == 200
    assert len(row_ids(response.content.decode())) > 10


@pytest.mark.parametrize("n", [0, 1, 50])
def test_the_questionnaire_runs_no_query(client, django_assert_num_queries, n):
    url = f"/check/?f={token({'systems': _systems(n)})}" if n else "/check/"

    with django_assert_num_queries(0):
        response = client.get(url)

    assert response.status_code == 200
    assert f'name="systems-TOTAL_FORMS" value="{max(n, 1)}"' in response.content.decode()
