"""What the AI Act asks of a company, by when, and why: the rules against the law.

Each profile states the exact milestones and dates the law gives, with the article for each
expectation. The rules read their dates from the shipped catalogue (fixtures/eu-ai-act.yaml),
as the app reads them from the database, so a profile checks the rules and the pack together.
"""

from __future__ import annotations

import ast
import datetime as dt
import re
from pathlib import Path

import pytest
import yaml
from dateutil.relativedelta import relativedelta

from tracker.workspace import applicability as law
from tracker.workspace.applicability import CompanyFacts, SystemFacts, applicable_milestones

ROOT = Path(__file__).resolve().parent.parent
PACK = yaml.safe_load((ROOT / "fixtures" / "eu-ai-act.yaml").read_text(encoding="utf-8"))
MILESTONES = {m["key"]: m for m in PACK["milestones"]}
DATES = {key: m.get("date") for key, m in MILESTONES.items()}
AS_OF = dt.date(2026, 11, 29)

D = dt.date
RELATIVE = None  # counted from an event (Art. 73 clocks, notifications)

# What any operator that places on the market or uses AI gets (Art. 4, 5, 99, 79, 113).
GENERAL = {
    "ai-act-general-application": D(2026, 8, 2),  # Art. 113, second paragraph
    "ai-act-ai-literacy-applies": D(2025, 2, 2),  # Art. 4 as replaced; Art. 113(a)
    "ai-act-prohibitions-apply": D(2025, 2, 2),  # Art. 5; Art. 113(a)
    "ai-act-omnibus-new-prohibitions-apply": D(2026, 12, 2),  # Art. 5(1)(ba)-(bb) as inserted
    "ai-act-penalties-apply": D(2025, 8, 2),  # Art. 99; Art. 113(b)
    "ai-act-corrective-action-15-working-days": RELATIVE,  # Art. 79(4)
}
# Importers and distributors are not bound by Art. 4 (providers and deployers only).
TRADER = {k: v for k, v in GENERAL.items() if k != "ai-act-ai-literacy-applies"}
# An authorised representative neither places on the market nor uses (Art. 22(3)).
MANDATE = {
    k: v
    for k, v in TRADER.items()
    if k not in ("ai-act-prohibitions-apply", "ai-act-omnibus-new-prohibitions-apply")
}
INCIDENTS = {  # Art. 73(2)-(4); the 2-day clock of 73(3) covers any high-risk system
    "ai-act-serious-incident-report-15-days": RELATIVE,
    "ai-act-serious-incident-death-10-days": RELATIVE,
    "ai-act-widespread-infringement-2-days": RELATIVE,
    "ai-act-serious-incident-critical-infrastructure-2-days": RELATIVE,
}
ANNEX_III = {"ai-act-high-risk-annex-iii-apply": D(2027, 12, 2)}  # Art. 113(c)(i) as replaced
ANNEX_I = {"ai-act-high-risk-annex-i-apply": D(2028, 8, 2)}  # Art. 113(c)(ii) as replaced
LEGACY_III = {"ai-act-legacy-high-risk-cutoff": D(2027, 12, 2)}  # Art. 111(2) as replaced
LEGACY_I = {"ai-act-legacy-high-risk-cutoff-annex-i": D(2028, 8, 2)}  # Art. 111(2) as replaced
BACKSTOP = {"ai-act-public-authority-high-risk-compliance": D(2030, 8, 2)}  # Art. 111(2)
FRIA = {"ai-act-fria": D(2027, 12, 2), "ai-act-fria-notification": D(2027, 12, 2)}  # Art. 27
REPRESENTATIVE_III = {"ai-act-authorised-representative-high-risk": D(2027, 12, 2)}  # 22(1)
REPRESENTATIVE_I = {"ai-act-authorised-representative-high-risk-annex-i": D(2028, 8, 2)}
REQUALIFIED_III = {"ai-act-requalified-provider": D(2027, 12, 2)}  # Art. 25(1)
REQUALIFIED_I = {"ai-act-requalified-provider-annex-i": D(2028, 8, 2)}
NOT_HIGH_RISK = {  # Art. 6(4) (Chapter III Section 1: the Annex III date); Art. 49(2)
    "ai-act-not-high-risk-documentation": D(2027, 12, 2),
    "ai-act-not-high-risk-registration": DATES.get("ai-act-not-high-risk-registration"),
}
ART50_1 = {"ai-act-transparency-interaction": D(2026, 8, 2)}  # Art. 50(1); Art. 113
ART50_2 = {"ai-act-transparency-synthetic-marking": D(2026, 8, 2)}  # Art. 50(2)
ART50_3 = {"ai-act-transparency-emotion-biometric": D(2026, 8, 2)}  # Art. 50(3)
ART50_4 = {"ai-act-transparency-deep-fake": D(2026, 8, 2)}  # Art. 50(4)
GRACE = {"ai-act-omnibus-art50-2-grace-period-ends": D(2026, 12, 2)}  # Art. 111(4) as inserted
GPAI = {"ai-act-gpai-obligations-apply": D(2025, 8, 2), "ai-act-gpai-fines-apply": D(2026, 8, 2)}
GPAI_LEGACY = {  # Art. 111(3): placed before 2 August 2025, comply by 2 August 2027
    "ai-act-legacy-gpai-compliance": D(2027, 8, 2),
    "ai-act-gpai-fines-apply": D(2026, 8, 2),
}
GPAI_NOTIFY = {"ai-act-gpai-systemic-risk-notification": RELATIVE}  # Art. 52(1)
GPAI_REPRESENTATIVE = {"ai-act-gpai-authorised-representative": D(2025, 8, 2)}  # Art. 54(1)
POST_RBI = {  # Art. 26(10)
    "ai-act-post-rbi-authorisation-48-hours": RELATIVE,
    "ai-act-post-rbi-annual-report": D(2027, 12, 2),
}


def system(risk="other", *, roles=("provider",), name="System", **facts) -> SystemFacts:
    facts.setdefault("key", name)
    return SystemFacts(name=name, roles=frozenset(roles), risk=risk, **facts)


def company(*systems, **facts) -> CompanyFacts:
    return CompanyFacts(systems=tuple(systems), **facts)


def annex_iii(point="4a", placed=None, **facts) -> SystemFacts:
    return system("high_risk_annex_iii", annex_iii_point=point, placed_on_market=placed, **facts)


def annex_i(section="A", placed=None, **facts) -> SystemFacts:
    return system("high_risk_annex_i", annex_i_section=section, placed_on_market=placed, **facts)


def gpai(placed, **facts) -> SystemFacts:
    return system(gpai_model=True, placed_on_market=placed, **facts)


def answer(facts: CompanyFacts) -> dict[str, dt.date | None]:
    """Milestone key -> the date the catalogue gives (the next occurrence if recurring)."""
    out = {}
    for found in applicable_milestones(facts, DATES):
        milestone = MILESTONES[found.milestone_key]
        when = milestone.get("date")
        if when and milestone["kind"] == "recurring":
            step = relativedelta(months=milestone["every_months"])
            while when < AS_OF:
                when += step
        out[found.milestone_key] = when
    return out


P = pytest.param
PROFILES = [
    # Annex III providers around the cut-off of Art. 111(2) as replaced (2 December 2027)
    P(company(annex_iii(placed=D(2026, 3, 1))), GENERAL | LEGACY_III,
      id="annex-iii-provider-placed-before-the-original-date"),
    P(company(annex_iii(placed=D(2026, 10, 1))), GENERAL | LEGACY_III,
      id="annex-iii-provider-placed-october-2026-is-legacy-under-the-amended-111-2"),
    P(company(annex_iii(placed=D(2027, 12, 1))), GENERAL | LEGACY_III,
      id="annex-iii-provider-placed-the-day-before-the-cut-off"),
    P(company(annex_iii(placed=D(2027, 12, 2))), GENERAL | ANNEX_III | INCIDENTS,
      id="annex-iii-provider-placed-on-the-cut-off-day"),
    P(company(annex_iii(placed=D(2028, 3, 1))), GENERAL | ANNEX_III | INCIDENTS,
      id="annex-iii-provider-placed-after-the-cut-off"),
    P(company(annex_iii()), GENERAL | ANNEX_III | INCIDENTS,
      id="annex-iii-provider-not-yet-on-the-market"),
    P(company(annex_iii(placed=D(2027, 3, 1), intended_for_public_authorities=True)),
      GENERAL | LEGACY_III | BACKSTOP | INCIDENTS,
      id="annex-iii-legacy-system-for-public-authorities-complies-by-2030"),
    P(company(annex_iii(placed=D(2027, 1, 1), art25=frozenset({"substantial_modification"}))),
      GENERAL | ANNEX_III | INCIDENTS,
      id="annex-iii-legacy-system-substantially-modified-loses-the-transition"),
    # Annex I: Section A gets Chapter III; Section B only Art. 6(1), 60a, 102-112 (Art. 2(2))
    P(company(annex_i(placed=D(2027, 1, 1))), GENERAL | LEGACY_I,
      id="annex-i-section-a-provider-placed-before-2028-08-02"),
    P(company(annex_i(placed=D(2028, 2, 1))), GENERAL | LEGACY_I,
      id="annex-i-section-a-provider-placed-between-the-two-class-dates"),
    P(company(annex_i(placed=D(2028, 8, 2))), GENERAL | ANNEX_I | INCIDENTS,
      id="annex-i-section-a-provider-placed-on-its-class-date"),
    P(company(annex_i(section="B")), GENERAL,
      id="annex-i-section-b-product-gets-only-the-general-duties"),
    P(company(annex_i(roles=("product_manufacturer",))), GENERAL | ANNEX_I | INCIDENTS,
      id="annex-i-product-manufacturer-is-the-provider-art-25-3"),
    P(company(annex_i(placed=D(2029, 1, 1)), established_in_eu=False),
      GENERAL | ANNEX_I | INCIDENTS | REPRESENTATIVE_I,
      id="annex-i-non-eu-provider-appoints-a-representative"),
    # Deployers and the fundamental rights impact assessment (Art. 27(1))
    P(company(annex_iii(roles=("deployer",))), GENERAL | ANNEX_III | INCIDENTS,
      id="annex-iii-private-deployer-point-4a-no-fria"),
    P(company(annex_iii(roles=("deployer",)), public_body=True),
      GENERAL | ANNEX_III | INCIDENTS | FRIA, id="annex-iii-public-body-deployer-fria"),
    P(company(annex_iii("3a", roles=("deployer",)), provides_public_services=True),
      GENERAL | ANNEX_III | INCIDENTS | FRIA, id="annex-iii-public-service-provider-deployer-fria"),
    P(company(annex_iii("5b", roles=("deployer",))), GENERAL | ANNEX_III | INCIDENTS | FRIA,
      id="annex-iii-5b-credit-scoring-deployer-fria"),
    P(company(annex_iii("5c", roles=("deployer",))), GENERAL | ANNEX_III | INCIDENTS | FRIA,
      id="annex-iii-5c-insurance-pricing-deployer-fria"),
    P(company(annex_iii("2a", roles=("deployer",)), public_body=True),
      GENERAL | ANNEX_III | INCIDENTS, id="annex-iii-point-2-is-excluded-from-the-fria"),
    P(company(annex_iii(roles=("deployer",), placed=D(2026, 10, 1)), public_body=True),
      GENERAL | LEGACY_III, id="annex-iii-public-body-deploying-a-legacy-system"),
    P(company(annex_iii(roles=("deployer",), placed=D(2026, 10, 1),
                        intended_for_public_authorities=True), public_body=True),
      GENERAL | LEGACY_III | BACKSTOP | INCIDENTS,
      id="annex-iii-public-body-deploying-a-legacy-system-for-authorities"),
    P(company(annex_iii("1a", roles=("deployer",)), public_body=True),
      GENERAL | ANNEX_III | INCIDENTS | FRIA | POST_RBI,
      id="annex-iii-1a-remote-biometric-identification-by-a-public-body"),
    # Other operators of high-risk systems
    P(company(annex_iii(roles=("importer",))), TRADER | ANNEX_III, id="annex-iii-importer-art-23"),
    P(company(annex_iii(roles=("distributor",))), TRADER | ANNEX_III,
      id="annex-iii-distributor-art-24"),
    P(company(annex_iii(roles=("authorised_representative",))), MANDATE | ANNEX_III,
      id="annex-iii-authorised-representative-art-22"),
    P(company(annex_iii(), established_in_eu=False),
      GENERAL | ANNEX_III | INCIDENTS | REPRESENTATIVE_III,
      id="annex-iii-non-eu-provider-appoints-a-representative-art-22-1"),
    # Art. 25 re-qualification
    P(company(annex_iii(roles=("deployer",), art25=frozenset({"own_name"}))),
      GENERAL | ANNEX_III | INCIDENTS | REQUALIFIED_III,
      id="deployer-putting-its-name-on-a-high-risk-system-becomes-provider"),
    P(company(annex_iii(roles=("distributor",), placed=D(2026, 10, 1),
                        art25=frozenset({"substantial_modification"}))),
      GENERAL | ANNEX_III | INCIDENTS | REQUALIFIED_III,
      id="distributor-substantially-modifying-a-legacy-system-becomes-provider"),
    P(company(annex_iii(roles=("deployer",), art25=frozenset({"changed_purpose"}))),
      GENERAL | ANNEX_III | INCIDENTS | REQUALIFIED_III,
      id="deployer-changing-the-purpose-into-annex-iii-becomes-provider"),
    P(company(annex_i(roles=("importer",), art25=frozenset({"own_name"}))),
      GENERAL | ANNEX_I | INCIDENTS | REQUALIFIED_I,
      id="importer-putting-its-name-on-an-annex-i-system-becomes-provider"),
    # Art. 6(3): Annex III area, assessed as not high-risk
    P(company(system("annex_iii_not_high_risk", annex_iii_point="4a")), GENERAL | NOT_HIGH_RISK,
      id="annex-iii-area-assessed-not-high-risk-provider-documents-and-registers"),
    P(company(system("annex_iii_not_high_risk", annex_iii_point="4a", roles=("deployer",))),
      GENERAL, id="annex-iii-area-assessed-not-high-risk-deployer"),
    # Transparency (Art. 50), cumulative with Chapter III (Art. 50(6))
    P(company(system(art50=frozenset({"interacts"}))), GENERAL | ART50_1, id="chatbot-provider"),
    P(company(system(art50=frozenset({"synthetic_content"}), placed_on_market=D(2026, 9, 1))),
      GENERAL | ART50_2, id="generative-provider-placed-after-2026-08-02"),
    P(company(system(art50=frozenset({"synthetic_content"}), placed_on_market=D(2026, 5, 1))),
      GENERAL | ART50_2 | GRACE, id="generative-provider-placed-before-2026-08-02-grace"),
    P(company(system(art50=frozenset({"emotion_recognition"}), roles=("deployer",))),
      GENERAL | ART50_3, id="emotion-recognition-deployer"),
    P(company(system(art50=frozenset({"deep_fake", "public_interest_text"}), roles=("deployer",))),
      GENERAL | ART50_4, id="deep-fake-and-public-interest-text-deployer"),
    P(company(annex_iii("1c", roles=("deployer",), art50=frozenset({"emotion_recognition"}))),
      GENERAL | ANNEX_III | INCIDENTS | ART50_3,
      id="high-risk-emotion-recognition-deployer-also-art-50-3"),
    P(company(annex_iii("5d", art50=frozenset({"interacts"}))),
      GENERAL | ANNEX_III | INCIDENTS | ART50_1, id="high-risk-chatbot-provider-also-art-50-1"),
    P(company(system("prohibited", art50=frozenset({"interacts"}))), GENERAL,
      id="a-prohibited-practice-gets-no-labelling-duty"),
    # General-purpose AI models (Chapter V)
    P(company(gpai(D(2025, 9, 1))), GENERAL | GPAI, id="gpai-provider-placed-after-2025-08-02"),
    P(company(gpai(D(2025, 3, 1))), GENERAL | GPAI_LEGACY,
      id="gpai-provider-placed-before-2025-08-02-until-2027"),
    P(company(gpai(D(2025, 10, 1), systemic_risk=True)), GENERAL | GPAI | GPAI_NOTIFY,
      id="gpai-provider-with-systemic-risk"),
    P(company(gpai(D(2025, 10, 1), open_source=True), established_in_eu=False), GENERAL | GPAI,
      id="open-source-gpai-non-eu-needs-no-representative-art-54-6"),
    P(company(gpai(D(2025, 10, 1)), established_in_eu=False),
      GENERAL | GPAI | GPAI_REPRESENTATIVE, id="non-eu-gpai-provider-appoints-a-representative"),
    P(company(gpai(D(2025, 10, 1), open_source=True, systemic_risk=True), established_in_eu=False),
      GENERAL | GPAI | GPAI_NOTIFY | GPAI_REPRESENTATIVE,
      id="open-source-gpai-with-systemic-risk-keeps-every-duty"),
    P(company(gpai(D(2025, 10, 1), roles=("authorised_representative",))),
      MANDATE | {"ai-act-gpai-obligations-apply": D(2025, 8, 2)},
      id="authorised-representative-of-a-gpai-provider-art-54-3"),
    P(company(gpai(D(2025, 10, 1), art50=frozenset({"synthetic_content"}))), GENERAL | GPAI,
      id="art-50-binds-systems-not-models"),
    # Roles per system; none recorded; none at all
    P(company(system(roles=())), GENERAL, id="no-role-recorded-reads-as-deployer-art-3-4"),
    P(company(), {}, id="a-company-with-no-systems-gets-nothing"),
    P(company(annex_iii(name="CV screener"),
              system(name="Chatbot", roles=("deployer",), art50=frozenset({"deep_fake"})),
              public_body=False),
      GENERAL | ANNEX_III | INCIDENTS | ART50_4,
      id="provider-of-one-system-deployer-of-another-each-read-alone"),
    P(company(system("prohibited")), GENERAL, id="prohibited-practice-banned-since-2025"),
]  # fmt: skip


def test_there_are_at_least_forty_profiles():
    assert len(PROFILES) >= 40


@pytest.mark.parametrize(("facts", "expected"), PROFILES)
def test_a_company_gets_exactly_the_milestones_and_dates_the_law_gives(facts, expected):
    assert answer(facts) == expected


def test_every_rule_fires_in_some_profile():
    fired = {
        reason.rule
        for param in PROFILES
        for found in applicable_milestones(param.values[0], DATES)
        for reason in found.reasons
    }
    assert fired == {rule.id for rule in law.RULES}


def test_every_milestone_a_rule_can_yield_is_in_the_catalogue():
    assert law.MILESTONE_KEYS - set(MILESTONES) == set()
    assert set(law.CUTOFFS) - set(MILESTONES) == set()


def test_every_rule_has_a_unique_id_an_article_and_a_description():
    ids = [rule.id for rule in law.RULES]
    assert len(ids) == len(set(ids))
    assert all(rule.article.startswith("Art") and rule.description for rule in law.RULES)


def test_the_rules_hold_no_legal_date():
    """Dates come from the catalogue: no date literal, year or month-and-year in the module."""
    source = (ROOT / "tracker" / "workspace" / "applicability.py").read_text()
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "date":
            found.append(ast.unparse(node))
        if isinstance(node, ast.Constant) and type(node.value) is int and node.value >= 1990:
            found.append(str(node.value))
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value.replace("2026/1744", "").replace("2024/1689", "")
            if re.search(r"\b(19|20)\d\d\b", text):
                found.append(node.value)
    assert found == []


def test_a_reason_names_the_date_the_catalogue_holds_now():
    moved = {**DATES, "ai-act-high-risk-annex-iii-apply": D(2028, 3, 1)}
    facts = company(annex_iii(name="CV screener"))

    found = {a.milestone_key: a for a in applicable_milestones(facts, moved)}

    text = found["ai-act-high-risk-annex-iii-apply"].reasons[0].explanation
    assert "from 1 March 2028" in text
    assert "“CV screener”" in text and text.startswith("Provider of")


def test_moving_the_cut_off_in_the_catalogue_moves_a_system_across_it():
    facts = company(annex_iii(placed=D(2027, 12, 15)))
    later = {**DATES, "ai-act-legacy-high-risk-cutoff": D(2028, 6, 1)}

    assert "ai-act-high-risk-annex-iii-apply" in answer(facts)
    assert {a.milestone_key for a in applicable_milestones(facts, later)} >= {
        "ai-act-legacy-high-risk-cutoff"
    }
    assert "ai-act-high-risk-annex-iii-apply" not in {
        a.milestone_key for a in applicable_milestones(facts, later)
    }


def test_a_catalogue_without_a_cut_off_is_refused_by_name():
    partial = {k: v for k, v in DATES.items() if k != "ai-act-legacy-high-risk-cutoff"}

    with pytest.raises(law.CatalogueIncomplete) as caught:
        applicable_milestones(company(annex_iii()), partial)

    assert caught.value.keys == ["ai-act-legacy-high-risk-cutoff"]


def test_reasons_name_the_system_and_why_for_a_fria():
    facts = company(annex_iii("5b", name="Scorer", roles=("deployer",)))

    found = {a.milestone_key: a for a in applicable_milestones(facts, DATES)}

    (reason,) = found["ai-act-fria"].reasons
    assert reason.system_key == "Scorer"
    assert "Deployer of “Scorer”" in reason.explanation
    assert "Annex III point 5(b)" in reason.explanation
    assert reason.article == "Art. 27(1), (3)"


def test_company_level_reasons_carry_no_system_key():
    found = applicable_milestones(company(annex_iii()), DATES)
    general = next(a for a in found if a.milestone_key == "ai-act-penalties-apply")
    assert [r.system_key for r in general.reasons] == [""]


@pytest.mark.parametrize(
    "build",
    [
        lambda: system(roles=("regulator",)),
        lambda: system("medium"),
        lambda: system(annex_iii_point="9z"),
        lambda: system(systemic_risk=True),
        lambda: system(art50=frozenset({"telepathy"})),
        lambda: company(system(name="A"), system(name="A")),
    ],
    ids=["unknown role", "unknown risk", "bad point", "systemic without gpai", "bad art50", "dup"],
)
def test_inconsistent_facts_are_refused(build):
    with pytest.raises(ValueError):
        build()


def test_the_module_imports_nothing_from_django_or_the_app():
    tree = ast.parse((ROOT / "tracker" / "workspace" / "applicability.py").read_text())
    imported = [
        (node.module or "") if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in getattr(node, "names", [])
    ]
    assert not [name for name in imported if name.startswith(("django", "tracker"))]
