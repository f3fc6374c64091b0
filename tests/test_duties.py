"""Duties per AI system: the matching rule, the workspace's items, its pages, reports and API.

- The table: each company profile gets exactly the duties the obligations pack lists for it,
  by article, per system (and the company's own duties once), at the milestone that applies to
  that system (the Art. 111 substitutes included). Read from the real packs.
- Tracking: one item per duty per system; work on a milestone tracked as a whole is carried
  over to its duties; duties that stop applying are kept with the reason; a removed system's
  duties keep its name; one owner gets one email for the duties that stop together.
- Pages: the timeline and the dashboard roll duties up per milestone and system, the item page
  quotes the law (never the editors' note), the CSV and the printable report list every
  obligation; a fixed number of queries with 1 or 50 systems of 15 duties each.
- API: items name their system and duty; the applicability API lists the duties.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
import time_machine
import yaml
from django.core.management import call_command
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils.html import escape

from tests.duty_support import obligation_make, obligations_load, pack_entries
from tests.factories import MilestoneFactory, UserFactory, acme_organisation
from tests.html_forms import form_fields
from tracker.catalogue.models import MilestoneChange, Obligation
from tracker.catalogue.services import milestone_amend
from tracker.outbox.models import Message
from tracker.workspace import applicability as law
from tracker.workspace import duties, services
from tracker.workspace.models import AISystem, Evidence, Membership, TrackedItem
from tracker.workspace.selectors import item_history

BRUSSELS = ZoneInfo("Europe/Brussels")
NOW = dt.datetime(2026, 12, 1, 10, tzinfo=BRUSSELS)
MILESTONES_PACK = Path(__file__).resolve().parent.parent / "fixtures" / "eu-ai-act.yaml"

ANNEX_III = "ai-act-high-risk-annex-iii-apply"
LITERACY = "Art. 4 as replaced by Regulation (EU) 2026/1744"
ART5 = "Art. 5(1), points (a) to (h)"
ART5_NEW = (
    "Art. 5(1), points (ba) and (bb), and Art. 5(1a) and (1b), as inserted by Regulation (EU) "
    "2026/1744"
)
COMPANY = [LITERACY, ART5, ART5_NEW]
PROVIDER_III = [
    "Art. 9", "Art. 10", "Art. 11", "Art. 12", "Art. 13", "Art. 14", "Art. 15", "Art. 16(b)",
    "Art. 17", "Art. 18", "Art. 19", "Art. 20", "Art. 16(k); Art. 21", "Art. 16(l)",
    "Art. 43(1), (2) and (4)", "Art. 47", "Art. 48", "Art. 49(1)",
    "Art. 72(1) and (2); Art. 72(3) as replaced by Regulation (EU) 2026/1744",
    "Art. 73(1) to (5)", "Art. 73(6)",
]  # fmt: skip
PROVIDER_I = [
    "Art. 9", "Art. 10", "Art. 11", "Art. 12", "Art. 13", "Art. 14", "Art. 15", "Art. 16(b)",
    "Art. 17", "Art. 18", "Art. 19", "Art. 20", "Art. 16(k); Art. 21", "Art. 16(l)",
    "Art. 43(3) as replaced by Regulation (EU) 2026/1744; Art. 43(4)", "Art. 47", "Art. 48",
    "Art. 72(1) and (2); Art. 72(3) as replaced by Regulation (EU) 2026/1744",
    "Art. 73(1) to (5)", "Art. 73(6)",
]  # fmt: skip
DEPLOYER_III = [
    "Art. 26(1)", "Art. 26(2)", "Art. 26(4)",
    "Art. 26(5), first subparagraph, first and second sentences",
    "Art. 26(5), first subparagraph, third and fourth sentences",
    "Art. 26(6)", "Art. 26(7)", "Art. 26(9)", "Art. 26(11)", "Art. 26(12)",
]  # fmt: skip
FRIA = ["Art. 27(1) and (2)", "Art. 27(3)"]
PUBLIC_DEPLOYER = ["Art. 26(8)", "Art. 49(3)"]
IMPORTER = ["Art. 23(1) and (2)", "Art. 23(3)", "Art. 23(4)", "Art. 23(5)", "Art. 23(6) and (7)"]
GPAI_OPEN = ["Art. 53(1)(c)", "Art. 53(1)(d)", "Art. 53(3)"]
GPAI = ["Art. 53(1)(a)", "Art. 53(1)(b)", *GPAI_OPEN]
SYSTEMIC = ["Art. 52(1)", "Art. 55(1)(a)", "Art. 55(1)(b)", "Art. 55(1)(c)", "Art. 55(1)(d)"]


# The matching rule, from a table ---------------------------------------------------------------


def _system(name: str, **facts) -> law.SystemFacts:
    facts.setdefault("roles", frozenset({"provider"}))
    for name_ in ("roles", "art50", "art25"):
        facts[name_] = frozenset(facts.get(name_, ()))
    return law.SystemFacts(key=name, name=name, **facts)


CV = {"risk": "high_risk_annex_iii", "annex_iii_point": "4a"}
# (id, company facts, systems, {system name or "" (the company): expected articles},
#  {system name: the milestone its duties of the class date are tracked against})
TABLE = [
    ("high-risk-annex-iii-provider", {}, [_system("CV screener", **CV)],
     {"CV screener": PROVIDER_III, "": COMPANY}, {"CV screener": ANNEX_III}),
    ("high-risk-annex-iii-deployer", {}, [_system("CV screener", roles={"deployer"}, **CV)],
     {"CV screener": DEPLOYER_III, "": COMPANY}, {"CV screener": ANNEX_III}),
    ("deployer-public-body-gets-the-fria", {"public_body": True},
     [_system("CV screener", roles={"deployer"}, **CV)],
     {"CV screener": [*DEPLOYER_III, *PUBLIC_DEPLOYER, *FRIA], "": COMPANY}, {}),
    ("deployer-public-services-gets-the-fria", {"provides_public_services": True},
     [_system("CV screener", roles={"deployer"}, **CV)],
     {"CV screener": [*DEPLOYER_III, *FRIA], "": COMPANY}, {}),
    ("credit-scoring-deployer-gets-the-fria",  {},
     [_system("Scorer", roles={"deployer"}, risk="high_risk_annex_iii", annex_iii_point="5b")],
     {"Scorer": [*DEPLOYER_III, *FRIA], "": COMPANY}, {}),
    ("critical-infrastructure-public-deployer-no-fria", {"public_body": True},
     [_system("Grid", roles={"deployer"}, risk="high_risk_annex_iii", annex_iii_point="2a")],
     {"Grid": DEPLOYER_III, "": COMPANY}, {}),
    ("provider-and-deployer-of-one-system", {},
     [_system("CV screener", roles={"provider", "deployer"}, **CV)],
     {"CV screener": [*PROVIDER_III, *DEPLOYER_III], "": COMPANY}, {}),
    ("requalified-deployer-is-its-provider", {},
     [_system("CV screener", roles={"deployer"}, art25={"own_name"}, **CV)],
     {"CV screener": [*PROVIDER_III, *DEPLOYER_III], "": COMPANY}, {}),
    ("non-eu-provider-appoints-a-representative", {"established_in_eu": False},
     [_system("CV screener", **CV)],
     {"CV screener": [*PROVIDER_III, "Art. 22(1) and (2)"], "": COMPANY}, {}),
    ("importer", {}, [_system("CV screener", roles={"importer"}, **CV)],
     {"CV screener": IMPORTER, "": [ART5, ART5_NEW]}, {}),
    ("legacy-system-tracked-at-its-cut-off", {},
     [_system("CV screener", placed_on_market=dt.date(2026, 10, 1), **CV)],
     {"CV screener": PROVIDER_III, "": COMPANY},
     {"CV screener": law.LEGACY_ANNEX_III}),
    ("legacy-system-for-public-authorities-tracked-at-the-backstop", {},
     [_system("CV screener", placed_on_market=dt.date(2026, 10, 1),
              intended_for_public_authorities=True, **CV)],
     {"CV screener": PROVIDER_III, "": COMPANY},
     {"CV screener": law.PUBLIC_AUTHORITY_BACKSTOP}),
    ("annex-i-section-a-product-manufacturer", {},
     [_system("Insulin pump", roles={"product_manufacturer"}, risk="high_risk_annex_i",
              annex_i_section="A")],
     {"Insulin pump": PROVIDER_I, "": COMPANY}, {"Insulin pump": law.ANNEX_I_APPLY}),
    ("annex-i-section-b-has-no-ai-act-duty", {},
     [_system("Autopilot", risk="high_risk_annex_i", annex_i_section="B")],
     {"Autopilot": [], "": COMPANY}, {}),
    ("open-source-gpai-without-systemic-risk-is-spared-53-1-a-b", {},
     [_system("Model", gpai_model=True, open_source=True)],
     {"Model": GPAI_OPEN, "": COMPANY}, {"Model": law.GPAI_APPLY}),
    ("gpai-provider", {}, [_system("Model", gpai_model=True)],
     {"Model": GPAI, "": COMPANY}, {}),
    ("open-source-gpai-with-systemic-risk-is-not-spared", {},
     [_system("Model", gpai_model=True, open_source=True, systemic_risk=True)],
     {"Model": [*GPAI, *SYSTEMIC], "": COMPANY}, {}),
    ("non-eu-gpai-provider-appoints-a-representative", {"established_in_eu": False},
     [_system("Model", gpai_model=True)],
     {"Model": [*GPAI, "Art. 54(1) and (2)"], "": COMPANY}, {}),
    ("non-eu-open-source-gpai-needs-no-representative", {"established_in_eu": False},
     [_system("Model", gpai_model=True, open_source=True)],
     {"Model": GPAI_OPEN, "": COMPANY}, {}),
    ("gpai-placed-before-the-gpai-date-tracked-at-its-deadline", {},
     [_system("Model", gpai_model=True, placed_on_market=dt.date(2025, 3, 1))],
     {"Model": GPAI, "": COMPANY}, {"Model": law.LEGACY_GPAI}),
    ("generative-system-placed-early-marks-by-the-grace-date", {},
     [_system("Writer", art50={"synthetic_content", "interacts"},
              placed_on_market=dt.date(2026, 3, 1))],
     {"Writer": ["Art. 50(1)", "Art. 50(2)"], "": COMPANY}, {}),
    ("deep-fakes-deployed-with-no-role-recorded", {},
     [_system("Studio", roles=set(), art50={"deep_fake"})],
     {"Studio": ["Art. 50(4), first subparagraph"], "": COMPANY}, {}),
    ("a-prohibited-system-is-the-company-duty-once", {},
     [_system("Scorer", roles={"deployer"}, risk="prohibited")],
     {"Scorer": [], "": COMPANY}, {}),
    ("two-systems-each-with-its-own-duties", {},
     [_system("CV screener", **CV), _system("Chatbot", roles={"deployer"}, art50={"interacts"}),
      _system("Scorer", roles={"deployer"}, risk="high_risk_annex_iii", annex_iii_point="5b")],
     {"CV screener": PROVIDER_III, "Chatbot": [], "Scorer": [*DEPLOYER_III, *FRIA],
      "": COMPANY}, {}),
]  # fmt: skip


@pytest.fixture(scope="module")
def pack() -> list[SimpleNamespace]:
    """The obligations pack as rows (what duties.py reads of an Obligation), no database."""
    rows = []
    for e in pack_entries():
        rows.append(SimpleNamespace(
            key=e["key"], milestone=SimpleNamespace(key=e["milestone"]), article=e["article"],
            roles=e["roles"], when=e.get("when") or {}, when_any=e.get("when_any") or [],
            unless=e.get("unless") or [],
        ))  # fmt: skip
    return rows


@pytest.fixture(scope="module")
def dates() -> dict[str, dt.date | None]:
    """The milestones pack's dates by key, as the catalogue holds them once loaded."""
    milestones = yaml.safe_load(MILESTONES_PACK.read_text(encoding="utf-8"))["milestones"]
    return {m["key"]: m.get("date") for m in milestones}


def _by_system(found: list[duties.Duty]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for duty in found:
        out.setdefault(duty.system_key, []).append(duty.obligation.article)
    return out


@pytest.mark.parametrize(
    ("company", "systems", "expected", "milestones"),
    [row[1:] for row in TABLE], ids=[row[0] for row in TABLE],
)  # fmt: skip
def test_each_profile_gets_exactly_the_duties_the_pack_lists_for_it(
    pack, dates, company, systems, expected, milestones
):
    facts = law.CompanyFacts(systems=tuple(systems), **company)

    found = duties.duties_matching(facts, law.applicable_milestones(facts, dates), pack)

    got = _by_system(found)
    for name, articles in expected.items():
        assert sorted(got.get(name, [])) == sorted(articles), name
    assert set(got) <= set(expected)
    for name, milestone in milestones.items():
        tracked_at = {d.milestone_key for d in found if d.system_key == name}
        class_date = {law.ANNEX_III_APPLY, law.LEGACY_ANNEX_III, law.PUBLIC_AUTHORITY_BACKSTOP,
                      law.ANNEX_I_APPLY, law.GPAI_APPLY, law.LEGACY_GPAI}  # fmt: skip
        assert tracked_at & class_date == {milestone}, name


def test_the_art_50_2_marking_of_an_early_generative_system_is_due_at_the_grace_date(pack, dates):
    writer = _system("Writer", art50={"synthetic_content"}, placed_on_market=dt.date(2026, 3, 1))
    later = _system("Later", art50={"synthetic_content"}, placed_on_market=dt.date(2026, 9, 1))
    facts = law.CompanyFacts(systems=(writer, later))

    found = duties.duties_matching(facts, law.applicable_milestones(facts, dates), pack)

    assert {(d.system_key, d.milestone_key) for d in found if d.system_key} == {
        ("Writer", law.ART50_2_GRACE),
        ("Later", "ai-act-transparency-synthetic-marking"),
    }


def test_only_providers_and_deployers_duties_move_to_the_public_authority_backstop(pack, dates):
    # Art. 111(2), second sentence, names providers and deployers: a company that imports and
    # deploys a legacy system for public authorities owes its deployer duties by the backstop,
    # its importer duties only on a significant change (the cut-off), like any legacy system.
    system = _system("CV screener", roles={"importer", "deployer"},
                     placed_on_market=dt.date(2026, 10, 1), intended_for_public_authorities=True,
                     **CV)  # fmt: skip
    facts = law.CompanyFacts(systems=(system,))

    found = duties.duties_matching(facts, law.applicable_milestones(facts, dates), pack)

    tracked_at: dict[str, set[str]] = {}
    for duty in found:
        if duty.system_key:
            tracked_at.setdefault(duty.milestone_key, set()).add(duty.obligation.article)
    assert tracked_at[law.PUBLIC_AUTHORITY_BACKSTOP] == set(DEPLOYER_III)
    assert tracked_at[law.LEGACY_ANNEX_III] == set(IMPORTER)


def test_conditions_read_list_facts_by_shared_value_and_unknown_facts_as_not_holding():
    facts = {"art50": frozenset({"deep_fake"}), "public_body": False, "annex_i_section": ""}

    assert duties.holds({"art50": ["deep_fake", "public_interest_text"]}, facts)
    assert not duties.holds({"art50": ["interacts"]}, facts)
    assert duties.holds({"annex_i_section": ["A", ""]}, facts)
    assert not duties.holds({"public_body": [True]}, facts)
    assert not duties.holds({"no_such_fact": [True]}, facts)
    row = SimpleNamespace(when={}, when_any=[{"public_body": [True]}, {"art50": ["deep_fake"]}],
                          unless=[{"annex_i_section": ["B"]}])  # fmt: skip
    assert duties.conditions_hold(row, facts)
    row.unless = [{"annex_i_section": [""]}]
    assert not duties.conditions_hold(row, facts)


def test_a_duty_with_system_conditions_on_a_company_wide_milestone_is_read_per_system(dates):
    literacy = SimpleNamespace(key="x", milestone=SimpleNamespace(key="ai-act-ai-literacy-applies"),
                               article="Art. X", roles=["deployer"],
                               when={"art50": ["interacts"]}, when_any=[], unless=[])  # fmt: skip
    bot = _system("Bot", roles={"deployer"}, art50={"interacts"})
    quiet = _system("Quiet", roles={"deployer"})
    facts = law.CompanyFacts(systems=(bot, quiet))

    found = duties.duties_matching(facts, law.applicable_milestones(facts, dates), [literacy])

    assert [(d.system_key, d.milestone_key) for d in found] == [
        ("Bot", "ai-act-ai-literacy-applies")
    ]


# Tracking in the workspace ---------------------------------------------------------------------


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def catalogue(ai_act_catalogue):
    return obligations_load()


@pytest.fixture
def org(officer, catalogue, frozen):
    return acme_organisation(officer)


def _articles(org, system=None, **filters) -> list[str]:
    items = org.items.filter(applies=True, obligation__isnull=False, **filters)
    items = items.filter(system=system) if system is not None else items
    return sorted(items.values_list("obligation__article", flat=True))


@pytest.mark.django_db
def test_each_duty_is_tracked_per_system_and_the_company_duties_once(org, officer):
    cv = org.systems.get()
    bot = AISystem(organisation=org, name="Scorer", roles=["deployer"],
                   risk_class="high_risk_annex_iii", annex_iii_point="5b")  # fmt: skip
    services.system_save(system=bot, by=officer)

    assert _articles(org, cv) == sorted(PROVIDER_III)
    assert _articles(org, bot) == sorted([*DEPLOYER_III, *FRIA])
    assert _articles(org, system_name="") == sorted(COMPANY)
    annex_iii = org.items.filter(milestone__key=ANNEX_III, applies=True)
    assert annex_iii.filter(obligation__isnull=True).count() == 0  # its duties replace it
    assert set(annex_iii.values_list("system_name", flat=True)) == {"CV screener", "Scorer"}
    # Milestones with no duty listed stay tracked as a whole, once
    incident = org.items.get(milestone__key="ai-act-serious-incident-report-15-days")
    assert (incident.obligation, incident.system, incident.applies) == (None, None, True)
    # Reasons name the duty's system only
    item = org.items.get(system=bot, obligation__key="ai-act-hr-deployer-fria")
    assert {r["system"] for r in item.reasons} == {str(bot.pk)}
    assert item.milestone.key == "ai-act-fria"
    assert services.tracking_sync(organisation=org) == {"added": 0, "updated": 0, "retired": 0}


@pytest.mark.django_db
def test_work_on_a_milestone_is_carried_over_to_each_of_its_duties(officer, ai_act_catalogue,
                                                                     frozen, teammate):  # fmt: skip
    org = acme_organisation(officer)
    Membership.objects.create(organisation=org, user=teammate, role="editor")
    whole = org.items.get(milestone__key=ANNEX_III)
    services.item_update(
        item=whole, by=officer, owner=teammate, status="in_progress",
        target_date=dt.date(2027, 9, 30), notes="Gap analysis started",
    )  # fmt: skip
    gap_analysis = Evidence.objects.create(organisation=org, title="Gap analysis",
                                           link="https://example.org/gap-analysis")  # fmt: skip
    gap_analysis.covers.add(whole)
    literacy = org.items.get(milestone__key="ai-act-ai-literacy-applies")  # no work on it
    obligations_load()

    services.tracking_sync(organisation=org)

    whole.refresh_from_db()
    assert (whole.applies, whole.stopped_at) == (False, NOW)
    assert whole.stopped_reason == "Now tracked duty by duty (21 duties for “CV screener”)."
    carried = org.items.filter(milestone__key=ANNEX_III, obligation__isnull=False)
    assert carried.count() == 21
    assert set(carried.values_list("status", "owner", "target_date", "notes")) == {
        ("in_progress", teammate.pk, dt.date(2027, 9, 30), "Gap analysis started")
    }
    # The piece that covered the milestone covers each duty now (and still the milestone item)
    assert set(gap_analysis.covers.all()) == {whole, *carried}
    fresh = org.items.get(obligation__key="ai-act-ai-literacy-measures")
    assert (fresh.status, fresh.owner, fresh.notes) == ("to_confirm", None, "")
    literacy.refresh_from_db()
    assert literacy.stopped_reason == "Now tracked duty by duty (1 duty for the whole company)."
    # The history says where the work came from; no "no longer applies" email for the handover
    (entry,) = item_history(item=carried.first())
    assert entry.created and entry.note == services.CARRIED_OVER
    assert {c.label: c.new for c in entry.changes} == {
        "Status": "In progress", "Owner": "teammate", "Target date": "30 September 2027",
        "Notes": "Gap analysis started",
    }  # fmt: skip
    assert not Message.objects.filter(kind="item_stopped").exists()
    # A second run changes nothing; a system added later starts afresh
    history = TrackedItem.history.count()
    assert services.tracking_sync(organisation=org) == {"added": 0, "updated": 0, "retired": 0}
    assert TrackedItem.history.count() == history
    services.system_save(
        system=AISystem(
            organisation=org,
            name="Ranker",
            roles=["provider"],
            risk_class="high_risk_annex_iii",
            annex_iii_point="4b",
        )
    )
    ranker = org.items.filter(system__name="Ranker", milestone__key=ANNEX_III)
    assert set(ranker.values_list("status", "owner", "notes")) == {("not_started", None, "")}


@pytest.mark.django_db
def test_duties_that_stop_applying_are_kept_and_come_back_with_their_work(client, org, officer):
    org.public_body = True
    org.save()
    deployer = AISystem(organisation=org, name="Screening desk", roles=["deployer"], **{
        "risk_class": "high_risk_annex_iii", "annex_iii_point": "4a"})  # fmt: skip
    services.system_save(system=deployer, by=officer)
    fria = org.items.get(obligation__key="ai-act-hr-deployer-fria")
    services.item_update(item=fria, by=officer, owner=officer, notes="Template chosen")
    services.organisation_set_facts(organisation=org, established_in_eu=True, public_body=False,
                                    provides_public_services=False)  # fmt: skip

    fria.refresh_from_db()
    assert fria.applies is False
    assert fria.stopped_reason == (
        "The rules no longer select it since the company is no longer recorded as “A body "
        "governed by public law”."
    )
    assert (fria.owner, fria.notes) == (officer, "Template chosen")
    client.force_login(officer)
    page = client.get(reverse("workspace:timeline", kwargs={"slug": org.slug})).content.decode()
    stopped = page.split('id="no-longer-applies"', 1)[1]
    assert "Art. 27(1) and (2)" in stopped and "Art. 49(3)" in stopped

    services.organisation_set_facts(organisation=org, established_in_eu=True, public_body=True,
                                    provides_public_services=False)  # fmt: skip
    fria.refresh_from_db()
    assert (fria.applies, fria.stopped_at, fria.notes) == (True, None, "Template chosen")


@pytest.mark.django_db
def test_a_duty_moves_with_its_work_to_the_art_111_milestone_that_now_applies(org, officer):
    item = org.items.get(obligation__key="ai-act-hr-provider-logging")
    services.item_update(item=item, by=officer, owner=officer, notes="Log schema drafted")
    system = org.systems.get()
    system.placed_on_market = dt.date(2026, 10, 1)  # on the market before its class date
    services.system_save(system=system, by=officer)

    item.refresh_from_db()
    assert (item.milestone.key, item.applies, item.notes) == (
        law.LEGACY_ANNEX_III, True, "Log schema drafted",
    )  # fmt: skip
    assert not org.items.filter(milestone__key=ANNEX_III, applies=True).exists()
    assert _articles(org, system, milestone__key=law.LEGACY_ANNEX_III) == sorted(PROVIDER_III)
    assert org.items.filter(obligation__isnull=False).count() == 21 + 3  # moved, none made
    latest = item_history(item=item)[0]
    assert latest.note.startswith("Now tracked against “Cut-off for Annex III high-risk")
    assert len(latest.note) <= 100  # the history column's size
    assert not Message.objects.filter(kind="item_stopped").exists()

    system.placed_on_market = dt.date(2028, 1, 10)
    services.system_save(system=system, by=officer)
    item.refresh_from_db()
    assert (item.milestone.key, item.notes) == (ANNEX_III, "Log schema drafted")


@pytest.mark.django_db
def test_saving_the_checkers_answers_tracks_each_duty_of_each_system(client, catalogue):
    from tests.test_checker import import_url

    ada = UserFactory(username="ada")
    payload = {"company": {"public_body": True}, "systems": [
        {"name": "CV screener", "roles": ["provider"], "risk": "high_risk_annex_iii",
         "annex_iii_point": "4a"},
        {"name": "Desk", "roles": ["deployer"], "risk": "high_risk_annex_iii",
         "annex_iii_point": "4a"},
    ]}  # fmt: skip
    client.force_login(ada)

    response = client.post(import_url(payload), {"name": "Acme AI"})

    assert response.status_code == 302
    org = ada.memberships.get().organisation
    cv, desk = org.systems.order_by("name")
    assert _articles(org, cv) == sorted(PROVIDER_III)
    assert _articles(org, desk) == sorted([*DEPLOYER_III, *PUBLIC_DEPLOYER, *FRIA])
    assert _articles(org, system_name="") == sorted(COMPANY)
    assert not org.items.filter(applies=False).exists()


@pytest.mark.django_db
def test_a_removed_systems_duties_keep_its_name_and_two_removals_do_not_collide(org, officer):
    twin = AISystem(organisation=org, name="CV sorter", roles=["provider"],
                    risk_class="high_risk_annex_iii", annex_iii_point="4a")  # fmt: skip
    services.system_save(system=twin, by=officer)
    for system in list(org.systems.all()):
        services.system_delete(system=system, by=officer)

    gone = org.items.filter(obligation__key="ai-act-hr-provider-risk-management")
    assert sorted(gone.values_list("system_name", "applies", "system")) == [
        ("CV screener", False, None), ("CV sorter", False, None),
    ]  # fmt: skip
    item = gone.get(system_name="CV sorter")
    assert item.scope_label == "CV sorter (removed)"
    assert item.stopped_reason == (
        "The rules no longer select it since the system “CV sorter” was removed from the inventory."
    )
    assert services.tracking_sync(organisation=org) == {"added": 0, "updated": 0, "retired": 0}


@pytest.mark.django_db
def test_a_renamed_system_renames_its_duties_in_their_history(org, officer):
    system = org.systems.get()
    system.name = "CV sorter"
    services.system_save(system=system, by=officer)

    item = org.items.get(obligation__key="ai-act-hr-provider-logging")
    assert item.system_name == "CV sorter"
    (renamed, _) = item_history(item=item)
    changes = {c.label: (c.old, c.new) for c in renamed.changes}
    assert changes["AI system"] == ("CV screener", "CV sorter")
    assert "Why it applies" in changes


@pytest.mark.django_db
def test_one_owner_gets_one_email_for_the_duties_that_stop_together(org, officer):
    duties_ = list(org.items.filter(system__isnull=False, milestone__key=ANNEX_III))
    for item in duties_[:3]:
        services.item_update(item=item, by=officer, owner=officer)
    system = org.systems.get()
    system.risk_class, system.annex_iii_point = "other", ""
    services.system_save(system=system, by=officer)

    (notice,) = Message.objects.filter(kind="item_stopped")
    assert notice.to_email == "officer@example.org"
    assert notice.subject == f"No longer applies: {duties_[0].title} and 2 other duties"
    for item in duties_[:3]:
        assert f"{item.article}: {item.title}" in notice.body_text
    assert "For “CV screener”, from: High-risk obligations apply to Annex III systems" in (
        notice.body_text
    )


def test_an_editors_change_of_a_duty_reaches_the_workspace_and_the_change_log(
    client, org, officer, editor, after_commit
):
    duty = Obligation.objects.get(key="ai-act-hr-provider-logging")
    item = org.items.get(obligation=duty)
    url = reverse("admin:catalogue_obligation_change", args=[duty.pk])
    client.force_login(editor)
    data = form_fields(client.get(url).content.decode(), url)

    with after_commit():  # the workspace's consumer runs, as a worker would
        response = client.post(url, {**data, "roles": '["deployer"]'})  # no longer providers'

    assert response.status_code == 302
    item.refresh_from_db()
    assert not item.applies and item.stopped_at is not None  # kept, under "No longer applies"
    page = client.get(duty.milestone.get_absolute_url()).content.decode()
    assert "Details changed: duties" in page
    change = MilestoneChange.objects.filter(milestone=duty.milestone).latest("pk")
    assert change.changes == {"duties": ["", f"{duty.article}: {duty.title} (changed)"]}
    assert change.recorded_by == editor


def test_editing_only_a_duty_s_note_announces_nothing(client, org, editor):
    duty = Obligation.objects.get(key="ai-act-hr-provider-logging")
    url = reverse("admin:catalogue_obligation_change", args=[duty.pk])
    client.force_login(editor)
    data = form_fields(client.get(url).content.decode(), url)
    before = MilestoneChange.objects.count()

    assert client.post(url, {**data, "note": "Checked the OJ wording"}).status_code == 302
    assert MilestoneChange.objects.count() == before


def test_one_owner_gets_one_email_for_the_duties_whose_date_moves(org, officer, after_commit):
    duties_ = list(org.items.filter(system__isnull=False, milestone__key=ANNEX_III))
    for item in duties_[:3]:
        services.item_update(item=item, by=officer, owner=officer)
    milestone = duties_[0].milestone

    with after_commit():  # the workspace's consumer runs, as a worker would
        milestone_amend(
            milestone=milestone, new_date=dt.date(2028, 1, 3),
            amending_act="Regulation (EU) 2099/1", source_url="https://example.org/a",
            confidence="high",
        )  # fmt: skip

    (notice,) = Message.objects.filter(kind="item_moved")
    assert notice.to_email == "officer@example.org"
    for item in duties_[:3]:
        assert f"* {item.article}: {item.title} (“CV screener”)" in notice.body_text
    assert "Now: 3 January 2028" in notice.body_text


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("system", "name"),
    [(True, "CV screener"), (False, "")],
    ids=["system-duty", "company-duty"],
)
def test_the_database_refuses_a_second_item_for_one_duty(org, system, name):
    existing = org.items.filter(obligation__isnull=False, system__isnull=not system).first()
    with pytest.raises(IntegrityError), transaction.atomic():
        TrackedItem.objects.create(
            organisation=org, milestone=existing.milestone, obligation=existing.obligation,
            system=existing.system, system_name=name,
        )  # fmt: skip


@pytest.mark.django_db
def test_the_database_refuses_a_second_milestone_item_and_a_system_without_a_duty(org):
    whole = org.items.filter(obligation__isnull=True).first()
    with pytest.raises(IntegrityError), transaction.atomic():
        TrackedItem.objects.create(organisation=org, milestone=whole.milestone)
    with pytest.raises(IntegrityError), transaction.atomic():
        TrackedItem.objects.create(
            organisation=org,
            milestone=whole.milestone,
            system=org.systems.get(),
            system_name="CV screener",
        )


# Pages -----------------------------------------------------------------------------------------


def _url(name, org, **kwargs):
    return reverse(f"workspace:{name}", kwargs={"slug": org.slug, **kwargs})


@pytest.mark.django_db
def test_the_timeline_lists_each_duty_under_its_milestone_and_system_with_the_roll_up(
    client, org, officer
):
    item = org.items.get(obligation__key="ai-act-hr-provider-human-oversight")
    services.item_update(item=item, by=officer, status="done")
    client.force_login(officer)

    html = client.get(_url("timeline", org)).content.decode()

    rollups = html.split('id="duties"', 1)[1].split("</section>", 1)[0]
    assert "CV screener: 1 of 21 duties done before 2 December 2027" in rollups
    assert "Whole company: 0 of 1 duty done before 2 February 2025" in rollups
    upcoming = html.split('id="h-upcoming"', 1)[1].split("</section>", 1)[0]
    assert 'CV screener <span class="meta">· High-risk obligations apply to Annex III' in upcoming
    assert upcoming.index(">Art. 9<") < upcoming.index(">Art. 10<") < upcoming.index(">Art. 73(6)<")
    assert _url("item", org, pk=org.items.get(obligation__key="ai-act-hr-provider-logging").pk) in (
        upcoming
    )
    closed = html.split('id="h-closed"', 1)[1].split("</section>", 1)[0]
    assert "Human oversight" in closed or item.title in closed
    assert " style=" not in html


@pytest.mark.django_db
def test_the_item_page_quotes_the_duty_and_links_its_source_but_never_the_editors_note(
    client, org, officer
):
    item = org.items.get(obligation__key="ai-act-hr-provider-risk-management")
    Obligation.objects.filter(pk=item.obligation_id).update(note="EDITORS ONLY: check 9(2)")
    duty = Obligation.objects.get(pk=item.obligation_id)
    client.force_login(officer)

    html = client.get(_url("item", org, pk=item.pk)).content.decode()

    assert f"<h1>{duty.title}</h1>" in html
    assert "Art. 9" in html and "for “CV screener”" in html
    assert escape(duty.done_when.split("\n")[0][:60]) in html
    assert f'cite="{duty.source_url}"' in html and f'href="{duty.source_url}"' in html
    assert escape(duty.text.split("\n")[0][:40]) in html
    assert "EDITORS ONLY" not in html


@pytest.mark.django_db
def test_the_dashboard_rolls_duties_up_and_filters_them_by_system(client, org, officer):
    bot = AISystem(organisation=org, name="Scorer", roles=["deployer"],
                   risk_class="high_risk_annex_iii", annex_iii_point="5b")  # fmt: skip
    services.system_save(system=bot, by=officer)
    client.force_login(officer)

    html = client.get(_url("dashboard", org)).content.decode()
    filtered = client.get(_url("dashboard", org), {"system": bot.pk},
                          headers={"HX-Request": "true"}).content.decode()  # fmt: skip

    duties_ = html.split('id="duty-rollups"', 1)[1].split("</ul>", 1)[0]
    assert "CV screener: 0 of 21 duties done before 2 December 2027" in duties_
    assert "Scorer: 0 of 10 duties done before 2 December 2027" in duties_
    assert "Scorer: 0 of 1 duty done before 2 December 2027" in duties_  # the FRIA's milestone
    # its 12 duties, and the 4 incident clocks tracked as a whole whose reasons name it
    assert "16 of the tracked items match the filters." in filtered
    assert "CV screener:" not in filtered.split('id="duty-rollups"', 1)[1]


@pytest.mark.django_db
def test_the_export_and_the_report_list_every_obligation_with_its_system(
    client, org, officer, viewer
):
    item = org.items.get(obligation__key="ai-act-hr-provider-logging")
    services.item_update(item=item, by=officer, status="in_progress", owner=officer)
    piece = Evidence.objects.create(
        organisation=org, title="Logging design", link="https://example.org/logs", added_by=officer
    )
    piece.covers.add(item)
    client.force_login(viewer)  # viewers may export

    response = client.get(_url("export", org))
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    report = client.get(_url("report", org))

    header = rows[0]
    row = dict(zip(header, next(r for r in rows if r[14] == "ai-act-hr-provider-logging"),
                   strict=True))  # fmt: skip
    assert {k: row[k] for k in ("AI system", "Article", "Title", "Status", "Owner",
                                "Legal date", "Legal basis", "Evidence")} == {
        "AI system": "CV screener", "Article": "Art. 12", "Title": item.title,
        "Status": "In progress", "Owner": "officer", "Legal date": "2027-12-02",
        "Legal basis": item.milestone.legal_basis, "Evidence": "Logging design",
    }  # fmt: skip
    assert len(rows) == 1 + org.items.count()
    assert report.status_code == 200
    html = report.content.decode()
    assert '/static/web/report.css"' in html and " style=" not in html
    sections = html.split('class="report-section"')[1:]
    headings = [s.split("<h2", 1)[1].split(">", 1)[1].split(" <span", 1)[0] for s in sections]
    assert headings == ["Whole company", "CV screener"]
    cv = sections[1]
    assert cv.count("<tr class=") == 21
    assert "Art. 12" in cv and "Logging design" in cv and "officer" in cv


@pytest.mark.django_db
def test_the_report_is_for_members_only(client, org, outsider):
    assert client.get(_url("report", org)).status_code == 302
    client.force_login(outsider)
    assert client.get(_url("report", org)).status_code == 404
    assert client.post(_url("report", org)).status_code in (404, 405)


def test_the_print_stylesheet_breaks_pages_between_systems_and_hides_navigation():
    css = (Path(__file__).resolve().parent.parent / "static" / "web" / "report.css").read_text()
    printed = css.split("@media print", 1)[1]
    assert ".report-section { break-before: page; }" in printed
    assert ".report-section:first-of-type { break-before: auto; }" in printed
    assert ".org-nav" in printed and "display: none" in printed
    assert "thead { display: table-header-group; }" in printed


# Query counts: 1 and 50 systems with 15 duties each ---------------------------------------------
# session, user, membership, the org menu's membership count, items (+ systems, members)
TIMELINE_QUERIES = 5
DASHBOARD_QUERIES = 7
EXPORT_QUERIES = 5  # session, user, membership, items, evidence titles
# session, user, membership, the org menu's membership count, items, systems, evidence titles
REPORT_QUERIES = 7


@pytest.fixture
def fifteen(db):
    milestone = MilestoneFactory(key="duties-count", date=dt.date(2027, 12, 2))
    return [obligation_make(milestone, n) for n in range(1, 16)]


def _seed(org, systems: int, obligations, owner) -> None:
    """`systems` systems, each with every duty of `obligations`: a third done, half owned."""
    made = AISystem.objects.bulk_create(
        AISystem(organisation=org, name=f"System {n:02d}", risk_class="other", roles=["provider"])
        for n in range(systems)
    )
    items = []
    for system in made:
        why = [{"rule": "r", "article": "Art. 1", "text": "Why", "system": str(system.pk)}]
        for n, duty in enumerate(obligations):
            items.append(TrackedItem(
                organisation=org, milestone=duty.milestone, obligation=duty, system=system,
                system_name=system.name, owner=owner if n % 2 else None, reasons=why,
                status="done" if n % 3 == 0 else "not_started",
            ))  # fmt: skip
    TrackedItem.objects.bulk_create(items)


@pytest.mark.django_db
@pytest.mark.parametrize("systems", [1, 50])
def test_the_pages_and_the_export_run_a_fixed_number_of_queries(
    client, officer, fifteen, systems, django_assert_num_queries
):
    org = services.organisation_create(name="Acme AI", owner=officer)
    _seed(org, systems, fifteen, officer)
    client.force_login(officer)
    expected = "System 00: 5 of 15 duties done before 2 December 2027"

    with django_assert_num_queries(TIMELINE_QUERIES):
        response = client.get(_url("timeline", org))
    assert expected in response.content.decode()
    with django_assert_num_queries(DASHBOARD_QUERIES):
        response = client.get(_url("dashboard", org))
    assert expected in response.content.decode()
    assert f"{15 * systems} tracked items apply." in response.content.decode()
    with django_assert_num_queries(EXPORT_QUERIES):
        response = client.get(_url("export", org))
    assert len(response.content.decode("utf-8-sig").splitlines()) == 1 + 15 * systems
    with django_assert_num_queries(REPORT_QUERIES):
        response = client.get(_url("report", org))
    assert response.content.decode().count('class="report-section"') == 1 + systems


# The sync command ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_workspace_sync_is_idempotent_and_one_failing_organisation_fails_alone(
    officer, ai_act_catalogue, frozen, monkeypatch, caplog
):
    good = acme_organisation(officer)
    bad = services.organisation_create(name="Broken Co", owner=officer)
    obligations_load()
    real = services.tracking_sync

    def failing(*, organisation, cause=""):
        if organisation.slug == "broken-co":
            TrackedItem.objects.filter(organisation=organisation).update(notes="half-written")
            raise RuntimeError("boom")
        return real(organisation=organisation, cause=cause)

    monkeypatch.setattr(services, "tracking_sync", failing)
    out, err = io.StringIO(), io.StringIO()
    with caplog.at_level(logging.ERROR, logger="tracker.workspace.services"):
        call_command("workspace_sync", stdout=out, stderr=err)

    assert "1 organisation(s) in line" in out.getvalue()
    assert "broken-co: not synced: RuntimeError: boom" in err.getvalue()
    assert "Tracking sync failed for broken-co" in caplog.text
    bad.refresh_from_db()
    assert bad.review_notes == [
        "Jalon could not bring the tracked obligations up to date on 1 December 2026: "
        "RuntimeError: boom. Nothing was changed; it is tried again at the next sync."
    ]
    assert not bad.items.filter(notes="half-written").exists()  # rolled back
    assert good.items.filter(obligation__isnull=False).count() == 24

    # Again, fixed: nothing changes for the good one, the note goes for the other
    monkeypatch.setattr(services, "tracking_sync", real)
    rows = list(TrackedItem.objects.order_by("pk").values())
    history = TrackedItem.history.count()
    call_command("workspace_sync", stdout=io.StringIO(), stderr=io.StringIO())
    assert list(TrackedItem.objects.order_by("pk").values()) == rows
    assert TrackedItem.history.count() == history
    bad.refresh_from_db()
    assert bad.review_notes == []


# API ------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_api_items_name_their_system_and_duty(client, org, officer):
    client.force_login(officer)

    response = client.get(f"/api/v1/organisations/{org.slug}/items/")

    items = response.json()["results"] if "results" in response.json() else response.json()
    logging_ = next(i for i in items if (i["obligation"] or {}).get("key") ==
                    "ai-act-hr-provider-logging")  # fmt: skip
    system = org.systems.get()
    assert logging_["system"] == {"id": system.pk, "name": "CV screener"}
    assert logging_["obligation"]["article"] == "Art. 12"
    assert logging_["title"] == logging_["obligation"]["title"]
    whole = next(i for i in items if i["milestone"] == "ai-act-general-application")
    assert (whole["system"], whole["obligation"]) == (None, None)
    literacy = next(i for i in items if i["milestone"] == "ai-act-ai-literacy-applies")
    assert literacy["system"] is None and literacy["obligation"]["article"] == LITERACY


@pytest.mark.django_db
def test_the_applicability_api_lists_the_duties_a_milestone_brings(client, catalogue):
    payload = {"systems": [{"name": "CV screener", "roles": ["provider"],
                            "risk": "high_risk_annex_iii", "annex_iii_point": "4a"}]}  # fmt: skip

    response = client.post("/api/v1/applicability/", payload, content_type="application/json")

    rows = {row["milestone"]: row for row in response.json()["obligations"]}
    annex_iii = [d["article"] for d in rows[ANNEX_III]["obligations"]]
    assert sorted(annex_iii) == sorted(PROVIDER_III)
    assert annex_iii[:3] == ["Art. 9", "Art. 10", "Art. 11"]
    general = rows["ai-act-general-application"]
    assert general["obligations"] == [{"article": general["legal_basis"],
                                       "title": general["title"]}]  # fmt: skip
