"""Which AI Act milestones apply to a company, and why: pure tests, no database."""

import ast
import datetime as dt
from pathlib import Path

import pytest
import yaml

from tracker.workspace import applicability
from tracker.workspace.applicability import (
    ROLES,
    RULES,
    Applicability,
    CompanyFacts,
    SystemFacts,
    applicable_milestones,
)

ROOT = Path(__file__).resolve().parent.parent
CATALOGUE = yaml.safe_load((ROOT / "fixtures" / "eu-ai-act.yaml").read_text(encoding="utf-8"))
MILESTONES = {m["key"]: m for m in CATALOGUE["milestones"]}

# What every company gets from its roles alone, before looking at any system.
CONTEXT = {"ai-act-general-application"}
OPERATOR = CONTEXT | {"ai-act-penalties-apply", "ai-act-corrective-action-15-working-days"}
TRADER = OPERATOR | {"ai-act-prohibitions-apply", "ai-act-omnibus-new-prohibitions-apply"}
GENERAL = TRADER | {"ai-act-ai-literacy-applies"}

INCIDENTS = {
    "ai-act-serious-incident-report-15-days",
    "ai-act-serious-incident-death-10-days",
    "ai-act-widespread-infringement-2-days",
}
ANNEX_III = "ai-act-high-risk-annex-iii-apply"
ANNEX_I = "ai-act-high-risk-annex-i-apply"
LEGACY_CUTOFF = "ai-act-legacy-high-risk-cutoff"
PUBLIC_AUTHORITY = "ai-act-public-authority-high-risk-compliance"
TRANSPARENCY = "ai-act-transparency-obligations-apply"
GRACE = "ai-act-omnibus-art50-2-grace-period-ends"
GPAI = "ai-act-gpai-obligations-apply"
GPAI_LEGACY = "ai-act-legacy-gpai-compliance"
GPAI_FINES = "ai-act-gpai-fines-apply"
GPAI_NOTIFY = "ai-act-gpai-systemic-risk-notification"
POST_RBI = {"ai-act-post-rbi-authorisation-48-hours", "ai-act-post-rbi-annual-report"}
CRITICAL_INFRA = "ai-act-serious-incident-critical-infrastructure-2-days"


def system(risk_class="minimal", **facts):
    facts.setdefault("key", "s1")
    facts.setdefault("name", "Test system")
    return SystemFacts(risk_class=risk_class, **facts)


def company(*roles, systems=()):
    return CompanyFacts(roles=frozenset(roles), systems=tuple(systems))


def keys(facts):
    return {a.milestone_key for a in applicable_milestones(facts)}


def annex_iii(area="employment", placed=None, **facts):
    return system("high_risk_annex_iii", annex_iii_area=area, placed_on_market=placed, **facts)


def gpai(placed, **facts):
    return system(is_gpai_model=True, placed_on_market=placed, **facts)


PROFILES = [
    pytest.param(
        company("provider", systems=[annex_iii(placed=dt.date(2026, 3, 1))]),
        GENERAL | {LEGACY_CUTOFF},
        id="annex-iii-provider-placed-before-the-2026-08-02-cut-off",
    ),
    pytest.param(
        company("provider", systems=[annex_iii(placed=dt.date(2026, 8, 2))]),
        GENERAL | {ANNEX_III} | INCIDENTS,
        id="annex-iii-provider-placed-on-the-cut-off-day",
    ),
    pytest.param(
        company("provider", systems=[annex_iii(placed=dt.date(2026, 9, 1))]),
        GENERAL | {ANNEX_III} | INCIDENTS,
        id="annex-iii-provider-placed-after-the-cut-off",
    ),
    pytest.param(
        company("provider", systems=[annex_iii(placed=None)]),
        GENERAL | {ANNEX_III} | INCIDENTS,
        id="annex-iii-provider-not-yet-on-the-market",
    ),
    pytest.param(
        company("deployer", systems=[annex_iii(placed=dt.date(2027, 1, 10))]),
        GENERAL | {ANNEX_III} | INCIDENTS,
        id="deployer-only-of-an-annex-iii-system",
    ),
    pytest.param(
        company("deployer", systems=[system("transparency", name="Help chatbot")]),
        GENERAL | {TRANSPARENCY},
        id="deployer-of-a-chatbot-with-transparency-duties",
    ),
    pytest.param(
        company("provider", systems=[gpai(dt.date(2024, 11, 1))]),
        GENERAL | {GPAI_LEGACY, GPAI_FINES},
        id="gpai-provider-placed-before-2025-08-02",
    ),
    pytest.param(
        company("provider", systems=[gpai(dt.date(2025, 8, 2))]),
        GENERAL | {GPAI, GPAI_FINES},
        id="gpai-provider-placed-on-2025-08-02",
    ),
    pytest.param(
        company("provider", systems=[gpai(dt.date(2025, 10, 1))]),
        GENERAL | {GPAI, GPAI_FINES},
        id="gpai-provider-placed-after-2025-08-02",
    ),
    pytest.param(
        company("provider", systems=[gpai(dt.date(2025, 10, 1), gpai_systemic_risk=True)]),
        GENERAL | {GPAI, GPAI_FINES, GPAI_NOTIFY},
        id="gpai-provider-with-systemic-risk",
    ),
    pytest.param(
        company("provider", systems=[gpai(dt.date(2024, 12, 1), gpai_systemic_risk=True)]),
        GENERAL | {GPAI_LEGACY, GPAI_FINES, GPAI_NOTIFY},
        id="gpai-provider-with-systemic-risk-placed-before-2025-08-02",
    ),
    pytest.param(
        company("authorised_representative", systems=[gpai(dt.date(2025, 9, 1))]),
        OPERATOR | {GPAI},
        id="authorised-representative-for-a-gpai-model",
    ),
    pytest.param(
        company(
            "provider",
            systems=[
                annex_iii("essential_services", dt.date(2025, 5, 1), used_by_public_authority=True)
            ],
        ),
        GENERAL | {LEGACY_CUTOFF, PUBLIC_AUTHORITY} | INCIDENTS,
        id="provider-of-a-legacy-system-used-by-public-authorities",
    ),
    pytest.param(
        company(
            "deployer",
            systems=[annex_iii("biometrics", dt.date(2027, 3, 1), used_by_public_authority=True)],
        ),
        GENERAL | {ANNEX_III} | INCIDENTS | POST_RBI,
        id="public-authority-deployer-of-a-biometric-system",
    ),
    pytest.param(
        company("deployer", systems=[annex_iii("biometrics", dt.date(2027, 3, 1))]),
        GENERAL | {ANNEX_III} | INCIDENTS,
        id="private-deployer-of-a-biometric-system-gets-no-post-rbi-duties",
    ),
    pytest.param(
        company("provider", systems=[annex_iii("critical_infrastructure", None)]),
        GENERAL | {ANNEX_III, CRITICAL_INFRA} | INCIDENTS,
        id="provider-of-a-critical-infrastructure-system",
    ),
    pytest.param(
        company("importer", systems=[system("high_risk_annex_i", name="Lift controller")]),
        TRADER | {ANNEX_I},
        id="importer-of-an-annex-i-product",
    ),
    pytest.param(
        company(
            "importer",
            systems=[system("high_risk_annex_i", placed_on_market=dt.date(2026, 1, 5))],
        ),
        TRADER | {LEGACY_CUTOFF},
        id="importer-of-an-annex-i-product-placed-before-the-cut-off",
    ),
    pytest.param(
        company("product_manufacturer", systems=[system("high_risk_annex_i")]),
        GENERAL | {ANNEX_I} | INCIDENTS,
        id="product-manufacturer-of-an-annex-i-product",
    ),
    pytest.param(
        company("deployer", systems=[system("high_risk_annex_i")]),
        GENERAL | {ANNEX_I} | INCIDENTS,
        id="deployer-of-an-annex-i-product",
    ),
    pytest.param(
        company("distributor", systems=[annex_iii("education", dt.date(2027, 6, 1))]),
        TRADER | {ANNEX_III},
        id="distributor-of-an-annex-iii-system",
    ),
    pytest.param(
        company("authorised_representative", systems=[annex_iii()]),
        OPERATOR | {ANNEX_III},
        id="authorised-representative-for-an-annex-iii-system",
    ),
    pytest.param(
        company(
            "provider", systems=[system(generative=True, placed_on_market=dt.date(2025, 5, 1))]
        ),
        GENERAL | {TRANSPARENCY, GRACE},
        id="provider-of-a-generative-system-placed-before-2026-08-02",
    ),
    pytest.param(
        company(
            "provider", systems=[system(generative=True, placed_on_market=dt.date(2026, 8, 2))]
        ),
        GENERAL | {TRANSPARENCY},
        id="provider-of-a-generative-system-placed-on-2026-08-02",
    ),
    pytest.param(
        company(
            "deployer", systems=[system(generative=True, placed_on_market=dt.date(2025, 5, 1))]
        ),
        GENERAL | {TRANSPARENCY},
        id="deployer-of-an-older-generative-system-has-no-grace-period",
    ),
    pytest.param(company("provider"), GENERAL, id="provider-with-no-systems-gets-general-duties"),
    pytest.param(
        company("provider", systems=[system("minimal")]),
        GENERAL,
        id="provider-of-a-minimal-risk-system",
    ),
    pytest.param(
        company("provider", systems=[system("prohibited", generative=True)]),
        GENERAL,
        id="provider-of-a-prohibited-practice",
    ),
    pytest.param(company(), set(), id="no-roles-nothing-applies"),
]


@pytest.mark.parametrize(("facts", "expected"), PROFILES)
def test_a_company_profile_gets_exactly_its_milestones(facts, expected):
    assert keys(facts) == expected


def test_every_rule_fires_in_some_profile():
    fired = {
        reason.rule
        for param in PROFILES
        for a in applicable_milestones(param.values[0])
        for reason in a.reasons
    }

    assert fired == {rule.id for rule in RULES}


def test_every_milestone_a_rule_can_yield_is_in_the_catalogue():
    yielded = {key for rule in RULES for key in rule.yields}

    assert yielded - MILESTONES.keys() == set()


def test_no_rule_yields_a_duty_of_authorities_only():
    authorities = {"member_state", "commission", "ai_office", "ai_board", "notified_body"}

    for rule in RULES:
        for key in rule.yields:
            assert set(MILESTONES[key]["roles"]) - authorities, (rule.id, key)


def test_every_rule_has_a_unique_id_an_article_and_a_description():
    ids = [rule.id for rule in RULES]

    assert len(ids) == len(set(ids))
    for rule in RULES:
        assert rule.id.startswith("R-")
        assert rule.article.startswith("Art."), rule.id
        assert rule.description.strip(), rule.id
        assert rule.yields, rule.id


def test_the_cut_off_dates_agree_with_the_catalogue():
    # The branches of Art. 111 turn on these dates; the catalogue is where admins amend them.
    assert MILESTONES["ai-act-legacy-high-risk-cutoff"]["date"] == applicability.HIGH_RISK_CUTOFF
    assert MILESTONES["ai-act-gpai-obligations-apply"]["date"] == applicability.GPAI_CUTOFF
    assert MILESTONES["ai-act-prohibitions-apply"]["date"] == applicability.PROHIBITIONS_FROM
    assert MILESTONES["ai-act-general-application"]["date"] == applicability.ART50_2_CUTOFF


ROLE_WORDS = ("Provider", "Deployer", "Importer", "Distributor", "Authorised", "Product")


def test_reasons_name_the_system_and_the_role():
    facts = company(
        *ROLES,
        systems=[
            annex_iii("critical_infrastructure", dt.date(2025, 1, 1), key="a", name="Grid",
                      used_by_public_authority=True),
            system("high_risk_annex_i", key="b", name="Lift"),
            system(generative=True, placed_on_market=dt.date(2025, 1, 1), key="c", name="Draw"),
            gpai(dt.date(2024, 1, 1), gpai_systemic_risk=True, key="d", name="Big model"),
            system("prohibited", key="e", name="Social scorer"),
        ],
    )  # fmt: skip
    names = {s.key: s.name for s in facts.systems}

    reasons = [r for a in applicable_milestones(facts) for r in a.reasons]

    system_reasons = [r for r in reasons if r.system_key]
    assert system_reasons
    for reason in system_reasons:
        assert f"“{names[reason.system_key]}”" in reason.explanation, reason
    for reason in reasons:
        assert reason.explanation.startswith(ROLE_WORDS), reason


def test_the_example_reason_reads_as_the_brief_says():
    facts = company("provider", systems=[annex_iii(key="7", name="CV screener")])

    (reason,) = next(
        a for a in applicable_milestones(facts) if a.milestone_key == ANNEX_III
    ).reasons

    assert reason.rule == "R-HR-III-PROVIDER"
    assert reason.article == "Art. 6(2), Art. 16; Art. 113 as amended by Regulation (EU) 2026/1744"
    assert reason.explanation.startswith(
        "Provider of “CV screener”, high-risk under Annex III (employment), not yet on the market"
    )
    assert reason.system_key == "7"


def test_milestones_come_sorted_once_each_with_all_reasons_merged():
    facts = company(
        "provider",
        "deployer",
        systems=[annex_iii(key="a", name="CV screener"), annex_iii(key="b", name="Shift planner")],
    )

    result = applicable_milestones(facts)

    found = [a.milestone_key for a in result]
    assert found == sorted(set(found))
    assert all(isinstance(a, Applicability) for a in result)
    annex = next(a for a in result if a.milestone_key == ANNEX_III)
    assert [(r.rule, r.system_key) for r in annex.reasons] == [
        ("R-HR-III-PROVIDER", "a"),
        ("R-HR-III-PROVIDER", "b"),
        ("R-HR-III-DEPLOYER", "a"),
        ("R-HR-III-DEPLOYER", "b"),
    ]
    incidents = next(
        a for a in result if a.milestone_key == "ai-act-serious-incident-report-15-days"
    )
    assert [r.system_key for r in incidents.reasons] == ["a", "b"]
    assert incidents.reasons[0].explanation.startswith("Provider and deployer of “CV screener”")


def test_a_prohibited_system_is_explained_as_banned_since_february_2025():
    facts = company("deployer", systems=[system("prohibited", key="x", name="Emotion reader")])

    prohibitions = next(
        a for a in applicable_milestones(facts) if a.milestone_key == "ai-act-prohibitions-apply"
    )

    assert [r.rule for r in prohibitions.reasons] == ["R-GEN-PROHIBITIONS", "R-PROHIBITED"]
    banned = prohibitions.reasons[1]
    assert banned.system_key == "x"
    assert "“Emotion reader”" in banned.explanation
    assert "banned since 2 February 2025" in banned.explanation


def test_a_legacy_high_risk_system_is_explained_with_the_cut_off():
    facts = company(
        "provider",
        systems=[annex_iii(placed=dt.date(2026, 3, 1), used_by_public_authority=True)],
    )

    result = {a.milestone_key: a for a in applicable_milestones(facts)}

    (legacy,) = result[LEGACY_CUTOFF].reasons
    assert legacy.rule == "R-HR-LEGACY"
    assert legacy.article == "Art. 111(2), first sentence"
    assert "placed on the market on 1 March 2026, before the 2 August 2026 cut-off" in (
        legacy.explanation
    )
    assert "design changes significantly" in legacy.explanation
    assert "2026/1744 is not known to have moved it" in legacy.explanation
    (public,) = result[PUBLIC_AUTHORITY].reasons
    assert public.article == "Art. 111(2), second sentence"
    assert "2 August 2030" in public.explanation
    assert ANNEX_III not in result  # the 2030 deadline replaces the Annex III date


def test_a_systemic_risk_model_placed_before_august_2025_is_given_2027():
    facts = company("provider", systems=[gpai(dt.date(2024, 12, 1), gpai_systemic_risk=True)])

    result = {a.milestone_key: a for a in applicable_milestones(facts)}

    assert [r.rule for r in result[GPAI_LEGACY].reasons] == [
        "R-GPAI-LEGACY",
        "R-GPAI-SYSTEMIC-OBLIGATIONS",
    ]
    assert "2 August 2027 (Art. 111(3))" in result[GPAI_LEGACY].reasons[1].explanation


def test_company_level_reasons_carry_no_system_key():
    result = applicable_milestones(company("provider"))

    assert {r.system_key for a in result for r in a.reasons} == {""}


@pytest.mark.parametrize(
    "build",
    [
        pytest.param(lambda: company("gpai_provider"), id="unknown-role"),
        pytest.param(lambda: system("high_risk"), id="unknown-risk-class"),
        pytest.param(
            lambda: system("minimal", annex_iii_area="employment"), id="area-off-annex-iii"
        ),
        pytest.param(lambda: annex_iii("sports"), id="unknown-area"),
        pytest.param(lambda: system(gpai_systemic_risk=True), id="systemic-risk-without-gpai"),
        pytest.param(
            lambda: company("provider", systems=[system(key="a"), system(key="a")]),
            id="duplicate-system-keys",
        ),
    ],
)
def test_inconsistent_facts_are_refused(build):
    with pytest.raises(ValueError):
        build()


def test_the_module_imports_nothing_from_django_or_the_app():
    tree = ast.parse(Path(applicability.__file__).read_text(encoding="utf-8"))

    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module or "")

    assert imported <= {"__future__", "collections.abc", "dataclasses", "datetime"}
