"""The same answer through POST /api/v1/applicability/, manage.py applicability_explain and the
workspace; an editor's amendment changes it with no code change."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.core.management import CommandError, call_command

from tests.duty_support import obligations_drop
from tracker.catalogue.events import catalogue_version
from tracker.catalogue.models import Milestone
from tracker.catalogue.services import milestone_amend
from tracker.workspace.checker import applicability_answer
from tracker.workspace.facts import facts_parse

pytestmark = pytest.mark.django_db
URL = "/api/v1/applicability/"
CV_SCREENER = {
    "as_of": "2026-11-29",
    "company": {"established_in_eu": True, "public_body": False, "provides_public_services": False},
    "systems": [{"name": "CV screener", "roles": ["provider"], "risk": "high_risk_annex_iii",
                 "annex_iii_point": "4a", "art50": ["interacts"],
                 "placed_on_market": "2028-01-10"}],
}  # fmt: skip


def _post(client, payload, **extra):
    return client.post(URL, json.dumps(payload), content_type="application/json", **extra)


def _by_key(answer):
    return {row["milestone"]: row for row in answer["obligations"]}


def test_the_api_answers_what_applies_by_when_and_why(client, ai_act_catalogue):
    obligations_drop()  # a milestone with no duty listed is its one duty (duties: test_duties)
    response = _post(client, CV_SCREENER)

    assert response.status_code == 200
    body = response.json()
    assert (body["as_of"], body["catalogue_version"]) == ("2026-11-29", catalogue_version())
    rows = _by_key(body)
    annex_iii = rows["ai-act-high-risk-annex-iii-apply"]
    assert annex_iii["date"] == "2027-12-02"
    assert annex_iii["systems"] == ["CV screener"]
    assert annex_iii["legal_basis"] == Milestone.objects.get(key=annex_iii["milestone"]).legal_basis
    assert annex_iii["obligations"] == [
        {"article": annex_iii["legal_basis"], "title": annex_iii["title"]}
    ]
    assert any("Provider of “CV screener”" in reason for reason in annex_iii["reasons"])
    assert rows["ai-act-transparency-interaction"]["date"] == "2026-08-02"
    dates = [row["date"] for row in body["obligations"]]
    dated = [d for d in dates if d]
    assert dated == sorted(dated) and dates[len(dated) :] == [None] * (len(dates) - len(dated))


@pytest.mark.parametrize(
    ("payload", "field", "message"),
    [
        ({"systems": [{"roles": ["provider"], "risk": "other"}]}, "systems[0].name", "name"),
        ({"systems": [{"name": "A", "roles": [], "risk": "other"}]}, "systems[0].roles",
         "at least one"),
        ({"systems": [{"name": "A", "roles": ["boss"], "risk": "other"}]}, "systems[0].roles",
         "Unknown: boss"),
        ({"systems": [{"name": "A", "roles": ["provider"], "risk": "medium"}]},
         "systems[0].risk", "Choose one of"),
        ({"systems": [{"name": "A", "roles": ["provider"], "risk": "other",
                       "annex_iii_point": "4a"}]}, "systems[0].annex_iii_point", "Only for"),
        ({"systems": [{"name": "A", "roles": ["provider"], "risk": "high_risk_annex_i",
                       "annex_i_section": "C"}]}, "systems[0].annex_i_section", "A or B"),
        ({"systems": [{"name": "A", "roles": ["provider"], "risk": "other",
                       "systemic_risk": True}]}, "systems[0].systemic_risk", "general-purpose"),
        ({"systems": [{"name": "A", "roles": ["provider"], "risk": "other",
                       "placed_on_market": "10/01/2028"}]}, "systems[0].placed_on_market",
         "YYYY-MM-DD"),
        ({"systems": [{"name": "A", "roles": ["provider"], "risk": "other",
                       "gpai_model": "yes"}]}, "systems[0].gpai_model", "true or false"),
        ({"systems": [{"name": "A\x00", "roles": ["provider"], "risk": "other"}]},
         "systems[0].name", "name"),
        ({"as_of": "10000-01-01", "systems": []}, "as_of", "YYYY-MM-DD"),
        ({"company": {"public": True}, "systems": []}, "company.public", "Unknown field"),
        ({"systems": "all of them"}, "systems", "list"),
        ([1, 2], "", "JSON object"),
    ],
)  # fmt: skip
def test_bad_input_gets_a_400_with_a_message_per_field(
    client, ai_act_catalogue, payload, field, message
):
    response = _post(client, payload)

    assert response.status_code == 400
    assert message in " ".join(response.json()[field])


def test_malformed_json_is_a_400_not_a_500(client, ai_act_catalogue):
    response = client.post(URL, "{not json", content_type="application/json")
    assert response.status_code == 400


def test_the_api_is_throttled_per_client(client, ai_act_catalogue, monkeypatch):
    from django.core.cache import cache

    from tracker.api.applicability import ApplicabilityThrottle

    cache.clear()
    monkeypatch.setattr(ApplicabilityThrottle, "rate", "3/hour", raising=False)

    codes = [_post(client, {"systems": []}).status_code for _ in range(4)]
    other_client = _post(client, {"systems": []}, REMOTE_ADDR="10.0.0.9").status_code

    assert (codes, other_client) == ([200, 200, 200, 429], 200)
    cache.clear()


def test_an_incomplete_catalogue_is_a_clear_503(client, loaded_small_pack):
    response = _post(client, CV_SCREENER)

    assert response.status_code == 503
    assert "ai-act-legacy-high-risk-cutoff" in response.json()["detail"]


def test_the_schema_documents_the_endpoint_with_an_example(client):
    schema = client.get("/api/v1/schema/?format=json").json()

    operation = schema["paths"]["/api/v1/applicability/"]["post"]
    assert set(operation["responses"]) >= {"200", "400", "429", "503"}
    assert "examples" in json.dumps(operation["requestBody"])


def test_the_command_prints_the_same_answer(ai_act_catalogue, tmp_path, capsys):
    profile = tmp_path / "acme.json"
    profile.write_text(json.dumps(CV_SCREENER))

    call_command("applicability_explain", str(profile), "--json")
    printed = json.loads(capsys.readouterr().out)
    call_command("applicability_explain", str(profile))
    table = capsys.readouterr().out

    company, as_of = facts_parse(CV_SCREENER, today=dt.date(2026, 11, 29))
    expected = applicability_answer(company=company, as_of=as_of)
    assert [row["milestone"] for row in printed["obligations"]] == [
        row["milestone"] for row in expected["obligations"]
    ]
    assert "2027-12-02    High-risk obligations apply to Annex III systems" in table
    assert "for: CV screener" in table


def test_the_command_names_what_is_wrong_in_a_bad_profile(ai_act_catalogue, tmp_path):
    profile = tmp_path / "bad.json"
    profile.write_text(json.dumps({"systems": [{"name": "A", "roles": [], "risk": "x"}]}))

    with pytest.raises(CommandError) as caught:
        call_command("applicability_explain", str(profile))

    assert "systems[0].roles" in str(caught.value) and "systems[0].risk" in str(caught.value)


def test_an_amendment_of_a_cut_off_changes_the_answer_and_the_tracked_items(
    client, ai_act_catalogue, editor, after_commit
):
    from tests.factories import UserFactory
    from tracker.workspace.models import AISystem
    from tracker.workspace.services import organisation_create, system_save

    # Given a CV screener placed on 10 January 2028, after the Annex III cut-off
    org = organisation_create(name="Acme", owner=UserFactory(username="o"))
    system_save(system=AISystem(
        organisation=org, name="CV screener", roles=["provider"], risk_class="high_risk_annex_iii",
        annex_iii_point="4a", placed_on_market=dt.date(2028, 1, 10),
    ))  # fmt: skip
    before = _by_key(_post(client, CV_SCREENER).json())
    assert "ai-act-high-risk-annex-iii-apply" in before
    # (tracked as a whole, or duty by duty when the catalogue lists the milestone's duties)
    assert org.items.filter(milestone__key="ai-act-high-risk-annex-iii-apply", applies=True)

    # When an editor records that a later act moved the cut-off to 1 June 2028
    with after_commit():
        milestone_amend(
            milestone=Milestone.objects.get(key="ai-act-legacy-high-risk-cutoff"),
            new_date=dt.date(2028, 6, 1), amending_act="Regulation (EU) 2099/1",
            source_url="https://example.org/2099-1", confidence="low", recorded_by=editor,
        )  # fmt: skip

    # Then the system is a legacy system: the API and the workspace say so, with no code change
    after = _post(client, CV_SCREENER).json()
    rows = _by_key(after)
    assert "ai-act-high-risk-annex-iii-apply" not in rows
    assert rows["ai-act-legacy-high-risk-cutoff"]["date"] == "2028-06-01"
    assert after["catalogue_version"] > 0
    assert not org.items.filter(milestone__key="ai-act-high-risk-annex-iii-apply", applies=True)
    assert org.items.filter(milestone__key="ai-act-legacy-high-risk-cutoff", applies=True)
    org.refresh_from_db()
    assert org.catalogue_version == after["catalogue_version"]


@pytest.mark.parametrize("systems", [1, 50])
def test_the_answer_costs_the_same_queries_for_1_and_50_systems(
    client, ai_act_catalogue, systems, django_assert_num_queries
):
    payload = {
        "systems": [{**CV_SCREENER["systems"][0], "name": f"System {n}"} for n in range(systems)]
    }

    # the milestones, the obligations, the catalogue version; the throttle reads and writes
    # the cache table
    with django_assert_num_queries(9):
        response = _post(client, payload)

    assert response.status_code == 200
