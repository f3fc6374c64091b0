"""Sanity of the shipped packs: every entry sourced, keys unique, the key dates right."""

import datetime as dt
from collections import Counter
from pathlib import Path

import pytest

from tracker.catalogue.models import Milestone
from tracker.catalogue.packs import pack_parse
from tracker.workspace.applicability import ROLES

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
PACK_FILES = sorted(FIXTURES.glob("*.yaml"))
OMNIBUS = "Regulation (EU) 2026/1744"
AS_REPLACED = "as replaced by Regulation (EU) 2026/1744"
OMNIBUS_URL = "https://eur-lex.europa.eu/eli/reg/2026/1744/oj"
TODAY = dt.date(2026, 11, 29)


@pytest.fixture(scope="module")
def packs():
    return [pack_parse(path=path) for path in PACK_FILES]


@pytest.fixture(scope="module")
def ai_act(packs):
    (pack,) = [p for p in packs if p.regulation["key"] == "eu-ai-act"]
    return {spec.key: spec for spec in pack.milestones}


def test_both_packs_ship_and_parse(packs):
    assert [p.regulation["key"] for p in packs] == ["eu-ai-act", "eu-digital-agenda"]


def test_every_entry_is_sourced_and_verified_no_later_than_today(packs):
    for pack in packs:
        for spec in pack.milestones:
            fields = spec.fields
            assert fields["source_url"].startswith("https://"), spec.key
            assert fields["legal_basis"], spec.key
            assert fields["verified_on"] is None or fields["verified_on"] <= TODAY, spec.key
            assert fields["confidence"] in {"high", "medium", "low", "unverified"}, spec.key


def test_keys_are_unique_across_packs(packs):
    keys = Counter(spec.key for pack in packs for spec in pack.milestones)

    assert [key for key, n in keys.items() if n > 1] == []


@pytest.mark.parametrize(
    ("key", "date"),
    [
        ("ai-act-entry-into-force", "2024-08-01"),
        ("ai-act-prohibitions-apply", "2025-02-02"),
        ("ai-act-ai-literacy-applies", "2025-02-02"),
        ("ai-act-gpai-obligations-apply", "2025-08-02"),
        ("ai-act-governance-applies", "2025-08-02"),
        ("ai-act-penalties-apply", "2025-08-02"),
        ("ai-act-general-application", "2026-08-02"),
        ("ai-act-gpai-fines-apply", "2026-08-02"),
        ("ai-act-transparency-obligations-apply", "2026-08-02"),
        ("ai-act-legacy-gpai-compliance", "2027-08-02"),
        ("ai-act-large-scale-it-systems-compliance", "2030-12-31"),
    ],
)
def test_the_article_113_and_111_dates_are_right(ai_act, key, date):
    assert str(ai_act[key].fields["date"]) == date
    assert ai_act[key].fields["status"] == "in_force"


@pytest.mark.parametrize(
    ("key", "original", "now"),
    [
        ("ai-act-high-risk-annex-iii-apply", "2026-08-02", "2027-12-02"),
        ("ai-act-high-risk-annex-i-apply", "2027-08-02", "2028-08-02"),
        ("ai-act-sandboxes-operational", "2026-08-02", "2027-08-02"),
        ("ai-act-post-market-monitoring-template", "2026-02-02", "2027-09-02"),
        ("ai-act-legacy-high-risk-cutoff", "2026-08-02", "2027-12-02"),
        ("ai-act-legacy-high-risk-cutoff-annex-i", "2026-08-02", "2028-08-02"),
        ("ai-act-fria", "2026-08-02", "2027-12-02"),
        ("ai-act-fria-notification", "2026-08-02", "2027-12-02"),
        ("ai-act-authorised-representative-high-risk", "2026-08-02", "2027-12-02"),
        ("ai-act-authorised-representative-high-risk-annex-i", "2027-08-02", "2028-08-02"),
        ("ai-act-not-high-risk-documentation", "2026-08-02", "2027-12-02"),
        ("ai-act-not-high-risk-registration", "2026-08-02", "2027-12-02"),
        ("ai-act-requalified-provider", "2026-08-02", "2027-12-02"),
        ("ai-act-requalified-provider-annex-i", "2027-08-02", "2028-08-02"),
        ("ai-act-post-rbi-annual-report", "2026-08-02", "2027-12-02"),
    ],
)
def test_the_2026_1744_moves_keep_the_superseded_date(ai_act, key, original, now):
    spec = ai_act[key]

    assert str(spec.fields["date"]) == now
    assert str(spec.fields["original_date"]) == original
    assert [(str(a.old_date), str(a.new_date), a.amending_act) for a in spec.amendments] == [
        (original, now, OMNIBUS)
    ]


@pytest.mark.parametrize(
    ("key", "date"),
    [
        ("ai-act-omnibus-art50-2-grace-period-ends", "2026-12-02"),
        ("ai-act-omnibus-new-prohibitions-apply", "2026-12-02"),
        ("ai-act-omnibus-annex-i-notified-bodies-designation", "2028-01-28"),
        ("ai-act-omnibus-entry-into-force", "2026-07-27"),
        ("ai-act-omnibus-adopted", "2026-07-08"),
        ("ai-act-omnibus-delegated-acts-art-2-13", "2027-08-02"),
        ("ai-act-omnibus-guidelines-art-96-1-g", "2027-08-01"),
    ],
)
def test_the_dates_created_by_2026_1744_are_present(ai_act, key, date):
    assert str(ai_act[key].fields["date"]) == date
    assert "2026/1744" in ai_act[key].fields["legal_basis"] + ai_act[key].fields["source_url"]


def test_no_annex_iii_milestone_is_still_dated_2_august_2026(ai_act):
    stale = [
        key
        for key, spec in ai_act.items()
        if "high_risk_annex_iii" in spec.scopes and str(spec.fields["date"]) == "2026-08-02"
    ]
    assert stale == []


@pytest.mark.parametrize(
    ("key", "days"),
    [
        ("ai-act-serious-incident-report-15-days", 15),
        ("ai-act-serious-incident-critical-infrastructure-2-days", 2),
        ("ai-act-serious-incident-death-10-days", 10),
    ],
)
def test_the_article_73_clocks_are_relative_deadlines(ai_act, key, days):
    spec = ai_act[key]

    assert (spec.fields["kind"], spec.fields["offset_days"]) == ("relative", days)
    assert spec.fields["legal_basis"].startswith("Art. 73")


def test_the_pack_has_all_three_kinds(ai_act):
    kinds = Counter(spec.fields["kind"] for spec in ai_act.values())

    assert set(kinds) == set(Milestone.Kind.values)


def test_the_agenda_pack_marks_what_only_the_seed_article_supports(packs):
    (agenda,) = [p for p in packs if p.regulation["key"] == "eu-digital-agenda"]
    confidence = {spec.key: spec.fields["confidence"] for spec in agenda.milestones}

    assert len(confidence) >= 8
    assert "unverified" in confidence.values()
    assert all(spec.fields["category"] == "policy" for spec in agenda.milestones)


@pytest.mark.django_db
def test_loading_the_shipped_packs_twice_is_idempotent():
    from tracker.catalogue.pack_load import catalogue_load_file

    first = [catalogue_load_file(path=path) for path in PACK_FILES]
    second = [catalogue_load_file(path=path) for path in PACK_FILES]

    assert sum(len(r.created) for r in first) == Milestone.objects.count()
    assert [r.file_unchanged for r in second] == [True, True]
    forced = [catalogue_load_file(path=path, force=True) for path in PACK_FILES]
    assert [(r.created, r.applied, r.conflicts) for r in forced] == [([], [], [])] * 2


# The November 2026 legal review (shared/reference/ai-act-legal-review-2026-11.md), row by row.

ALL_OPERATORS = set(ROLES)


@pytest.mark.parametrize(
    ("key", "scope", "class_point"),
    [
        ("ai-act-legacy-high-risk-cutoff", "high_risk_annex_iii", "point (c)(i),"),
        ("ai-act-legacy-high-risk-cutoff-annex-i", "high_risk_annex_i", "point (c),"),
    ],
)
def test_the_legacy_cut_offs_follow_the_class_date_and_bind_every_operator(
    ai_act, key, scope, class_point
):
    spec = ai_act[key]

    assert set(spec.roles) == ALL_OPERATORS
    assert spec.scopes == (scope,)
    assert f"Art. 111(2), {AS_REPLACED}" in spec.fields["legal_basis"]
    assert f"Art. 113, third paragraph, {class_point} {AS_REPLACED}" in spec.fields["legal_basis"]
    assert spec.fields["confidence"] == "medium"
    assert spec.fields["source_url"] == OMNIBUS_URL


def test_the_public_authority_backstop_concerns_systems_placed_before_their_class_date(ai_act):
    spec = ai_act["ai-act-public-authority-high-risk-compliance"]

    assert str(spec.fields["date"]) == "2030-08-02"
    assert "before 2 August 2026" not in spec.fields["summary"]
    assert "Chapter III date of their class" in spec.fields["summary"]
    assert spec.fields["legal_basis"].startswith(f"Art. 111(2), {AS_REPLACED}")


@pytest.mark.parametrize(
    ("key", "citation"),
    [
        ("ai-act-high-risk-annex-iii-apply", f"point (c)(i), {AS_REPLACED}"),
        ("ai-act-high-risk-annex-i-apply", f"point (c), {AS_REPLACED}"),
        ("ai-act-high-risk-annex-i-apply", f"Art. 2(2), {AS_REPLACED}"),
        ("ai-act-ai-literacy-applies", f"Art. 4, {AS_REPLACED}"),
        ("ai-act-post-market-monitoring-template", f"Art. 72(3), {AS_REPLACED}"),
        ("ai-act-delegation-report", f"Art. 97(2), {AS_REPLACED}"),
        ("ai-act-delegation-period-ends", f"Art. 97(2), {AS_REPLACED}"),
        ("ai-act-omnibus-annex-i-notified-bodies-designation", f"Art. 43(3), {AS_REPLACED}"),
        ("ai-act-real-world-testing-tacit-approval", f"Art. 60(1) and (2), {AS_REPLACED}"),
        ("ai-act-real-world-testing-max-duration", f"Art. 60(1) and (2), {AS_REPLACED}"),
        ("ai-act-omnibus-new-prohibitions-apply", f"point (a), {AS_REPLACED}"),
        (
            "ai-act-omnibus-new-prohibitions-apply",
            "Art. 5(1), points (ba) and (bb), and Art. 5(1a) and (1b), as inserted by "
            "Regulation (EU) 2026/1744",
        ),
        ("ai-act-omnibus-art50-2-grace-period-ends", "Art. 111(4), as inserted by " + OMNIBUS),
        ("ai-act-sandboxes-operational", "Art. 57(1), as amended by " + OMNIBUS),
        ("ai-act-omnibus-delegated-acts-art-2-13", "Art. 2(13), as inserted by " + OMNIBUS),
        ("ai-act-omnibus-guidelines-art-96-1-g", "point (g), as inserted by " + OMNIBUS),
    ],
)
def test_amended_provisions_are_cited_as_amended(ai_act, key, citation):
    assert citation in ai_act[key].fields["legal_basis"]


def test_the_annex_iii_date_no_longer_cites_the_second_paragraph(ai_act):
    legal_basis = ai_act["ai-act-high-risk-annex-iii-apply"].fields["legal_basis"]

    assert "second paragraph" not in legal_basis


def test_annex_i_section_b_products_are_not_given_the_full_regime(ai_act):
    spec = ai_act["ai-act-high-risk-annex-i-apply"]

    assert "Section B products" in spec.fields["summary"]
    assert "only Art. 6(1), Art. 60a and Arts. 102 to 112 apply" in spec.fields["summary"]


@pytest.mark.parametrize(
    ("key", "date", "legal_basis", "roles", "scopes"),
    [
        ("ai-act-fria", "2027-12-02", "Art. 27(1) and (2);", {"deployer"},
         ("high_risk_annex_iii",)),
        ("ai-act-fria-notification", "2027-12-02", "Art. 27(3);", {"deployer"},
         ("high_risk_annex_iii",)),
        ("ai-act-authorised-representative-high-risk", "2027-12-02", "Art. 22(1);",
         {"provider", "authorised_representative"}, ("high_risk_annex_iii",)),
        ("ai-act-authorised-representative-high-risk-annex-i", "2028-08-02", "Art. 22(1);",
         {"provider", "authorised_representative"}, ("high_risk_annex_i",)),
        ("ai-act-gpai-authorised-representative", "2025-08-02", "Art. 54(1);",
         {"gpai_provider", "authorised_representative"}, ("gpai", "gpai_systemic_risk")),
        ("ai-act-transparency-interaction", "2026-08-02", "Art. 50(1) and (5);", {"provider"},
         ("transparency_art50",)),
        ("ai-act-transparency-synthetic-marking", "2026-08-02", "Art. 50(2);", {"provider"},
         ("transparency_art50",)),
        ("ai-act-transparency-emotion-biometric", "2026-08-02", "Art. 50(3) and (5);",
         {"deployer"}, ("transparency_art50",)),
        ("ai-act-transparency-deep-fake", "2026-08-02", "Art. 50(4) and (5);", {"deployer"},
         ("transparency_art50",)),
        ("ai-act-not-high-risk-documentation", "2027-12-02", "Art. 6(3) and (4);", {"provider"},
         ("high_risk_annex_iii",)),
        ("ai-act-not-high-risk-registration", "2027-12-02", "Art. 49(2);",
         {"provider", "authorised_representative"}, ("high_risk_annex_iii",)),
        ("ai-act-requalified-provider", "2027-12-02", "Art. 25(1) and (2);",
         {"distributor", "importer", "deployer", "provider"}, ("high_risk_annex_iii",)),
        ("ai-act-requalified-provider-annex-i", "2028-08-02", "Art. 25(1) and (2);",
         {"distributor", "importer", "deployer", "provider"}, ("high_risk_annex_i",)),
        ("ai-act-omnibus-adopted", "2026-07-08", "Regulation (EU) 2026/1744 of 8 July 2026",
         {"everyone"}, ("all",)),
        ("ai-act-omnibus-delegated-acts-art-2-13", "2027-08-02", "Art. 2(13)", {"commission"},
         ("governance",)),
        ("ai-act-omnibus-guidelines-art-96-1-g", "2027-08-01", "Art. 96(1), point (g)",
         {"commission"}, ("all",)),
    ],
)  # fmt: skip
def test_the_missing_company_duties_are_entries_of_their_own(
    ai_act, key, date, legal_basis, roles, scopes
):
    spec = ai_act[key]

    assert str(spec.fields["date"]) == date
    assert spec.fields["legal_basis"].startswith(legal_basis)
    assert set(spec.roles) == roles
    assert spec.scopes == scopes
    assert spec.fields["source_url"].startswith("https://")
    assert spec.fields["editor_note"]


@pytest.mark.parametrize(
    "key",
    [
        "ai-act-fria",
        "ai-act-fria-notification",
        "ai-act-authorised-representative-high-risk",
        "ai-act-not-high-risk-documentation",
        "ai-act-not-high-risk-registration",
        "ai-act-requalified-provider",
    ],
)
def test_annex_iii_chapter_iii_duties_cite_the_class_date(ai_act, key):
    assert (
        f"Art. 113, third paragraph, point (c)(i), {AS_REPLACED}"
        in ai_act[key].fields["legal_basis"]
    )


def test_the_registration_date_is_an_open_point_with_low_confidence(ai_act):
    spec = ai_act["ai-act-not-high-risk-registration"]

    assert spec.fields["confidence"] == "low"
    assert spec.fields["editor_note"].startswith("Open point on the date.")
    assert "Section 5" in spec.fields["editor_note"]


def test_the_gpai_authorised_representative_notes_the_open_source_exemption(ai_act):
    assert "Art. 54(6)" in ai_act["ai-act-gpai-authorised-representative"].fields["editor_note"]


def test_the_chapter_level_transparency_entry_stays_on_the_general_date(ai_act):
    spec = ai_act["ai-act-transparency-obligations-apply"]

    assert str(spec.fields["date"]) == "2026-08-02"
    assert spec.fields["legal_basis"] == "Art. 113, second paragraph; Art. 50"


def test_the_prohibitions_bind_product_manufacturers(ai_act):
    assert "product_manufacturer" in ai_act["ai-act-prohibitions-apply"].roles
    assert set(ai_act["ai-act-omnibus-new-prohibitions-apply"].roles) == {
        "provider",
        "deployer",
        "importer",
        "distributor",
        "product_manufacturer",
    }


def test_a_deployer_informs_the_provider_first_and_sectoral_limits_are_noted(ai_act):
    spec = ai_act["ai-act-serious-incident-report-15-days"]

    assert "cannot reach the provider" not in spec.fields["summary"].split(";")[0]
    assert "immediately inform first the provider" in spec.fields["summary"]
    assert "Art. 26(5)" in spec.fields["legal_basis"]
    assert "Art. 73(9) and (10)" in spec.fields["legal_basis"]
    assert "Art. 3(49)(c)" in spec.fields["editor_note"]


def test_the_ai_literacy_duty_has_its_2026_wording(ai_act):
    summary = ai_act["ai-act-ai-literacy-applies"].fields["summary"]

    assert "support the development of AI literacy" in summary
    assert "sufficient level" not in summary


def test_the_post_market_monitoring_template_is_guidance_not_an_implementing_act(ai_act):
    spec = ai_act["ai-act-post-market-monitoring-template"]

    assert spec.fields["title"].startswith("Commission guidance")
    assert "implementing act" not in spec.fields["summary"]


def test_the_omnibus_procedure_entries_cite_their_own_documents(ai_act):
    proposal = ai_act["ai-act-omnibus-proposal"]
    agreement = ai_act["ai-act-omnibus-provisional-agreement"]

    assert "52025PC0836" in proposal.fields["source_url"]
    assert "CELEX 52025PC0836" in proposal.fields["legal_basis"]
    assert agreement.fields["status"] != "adopted"
    assert agreement.fields["source_url"].startswith("https://www.consilium.europa.eu/")
    assert "299/26" in agreement.fields["source_title"]
    assert ai_act["ai-act-omnibus-adopted"].fields["status"] == "adopted"


@pytest.mark.parametrize(
    ("key", "hours"),
    [
        ("ai-act-rbi-urgency-authorisation-24-hours", 24),
        ("ai-act-post-rbi-authorisation-48-hours", 48),
    ],
)
def test_the_biometric_authorisations_are_counted_by_the_hour(ai_act, key, hours):
    spec = ai_act[key]

    assert (spec.fields["offset_hours"], spec.fields["offset_days"]) == (hours, None)


@pytest.mark.parametrize(
    ("key", "days"),
    [
        ("ai-act-real-world-testing-tacit-approval", 31),
        ("ai-act-notified-body-objection-period-accredited", 15),
        ("ai-act-notified-body-objection-period-documentary", 63),
    ],
)
def test_earliest_allowed_dates_fall_the_day_after_the_longest_window(ai_act, key, days):
    spec = ai_act[key]

    assert spec.fields["offset_days"] == days
    assert "Art. 3(4)" in spec.fields["editor_note"]  # the weekend and holiday roll-over is noted


def test_real_world_testing_also_covers_annex_i_products(ai_act):
    for key in ("tacit-approval", "max-duration"):
        scopes = set(ai_act[f"ai-act-real-world-testing-{key}"].scopes)
        assert scopes == {"high_risk_annex_iii", "high_risk_annex_i"}, key


@pytest.mark.parametrize(
    ("key", "confidence"),
    [
        ("ai-act-omnibus-art50-2-grace-period-ends", "high"),
        ("ai-act-omnibus-new-prohibitions-apply", "high"),
        ("ai-act-sandboxes-operational", "high"),
        ("ai-act-post-market-monitoring-template", "medium"),
        ("ai-act-omnibus-annex-i-notified-bodies-designation", "medium"),
        ("ai-act-serious-incident-guidance", "medium"),
    ],
)
def test_confidence_is_raised_where_the_quotes_confirm(ai_act, key, confidence):
    spec = ai_act[key]

    assert spec.fields["confidence"] == confidence
    assert all(a.confidence == confidence for a in spec.amendments)


INDICATIVE = {
    "ai-act-authority-resources-annual-assessment",
    "ai-act-fines-annual-report",
    "ai-act-rbi-annual-reports-member-states",
    "ai-act-rbi-annual-report-commission",
    "ai-act-market-surveillance-annual-report",
    "ai-act-annual-review-annex-iii-and-art5",
    "ai-act-post-rbi-annual-report",
}


def test_yearly_duties_without_a_fixed_day_are_indicative_and_low(ai_act):
    indicative = {key for key, spec in ai_act.items() if spec.fields["indicative"]}

    assert indicative == INDICATIVE
    for key in INDICATIVE:
        spec = ai_act[key]
        assert (spec.fields["kind"], spec.fields["every_months"]) == ("recurring", 12), key
        assert spec.fields["confidence"] == "low", key
        assert "Indicative" in spec.fields["editor_note"], key


def test_no_entry_resting_on_a_check_still_to_make_claims_a_verification(ai_act):
    claimed = [
        key
        for key, spec in ai_act.items()
        if spec.fields["verified_on"] is not None
        and (
            "check" in spec.fields["editor_note"].lower()
            or "recollection" in spec.fields["editor_note"]
            or "not verified" in spec.fields["editor_note"].lower()
            or spec.fields["source_url"] == OMNIBUS_URL
        )
    ]
    assert claimed == []


def test_entries_built_on_quotes_of_2026_1744_say_what_to_check_on_eur_lex(ai_act):
    for key, spec in ai_act.items():
        if spec.fields["source_url"] == OMNIBUS_URL:
            assert spec.fields["verified_on"] is None, key
            assert "EUR-Lex" in spec.fields["editor_note"], key


def test_entries_verified_today_cite_only_the_2024_text(ai_act):
    today = [key for key, spec in ai_act.items() if spec.fields["verified_on"] == TODAY]

    assert len(today) == 18
    for key in today:
        spec = ai_act[key]
        assert spec.fields["source_url"] == "https://eur-lex.europa.eu/eli/reg/2024/1689/oj", key
        assert "2026/1744" not in spec.fields["legal_basis"], key
