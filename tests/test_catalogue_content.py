"""Sanity of the shipped packs: every entry sourced, keys unique, the key dates right."""

import datetime as dt
from collections import Counter
from pathlib import Path

import pytest

from tracker.catalogue.models import Milestone
from tracker.catalogue.packs import pack_parse

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
PACK_FILES = sorted(FIXTURES.glob("*.yaml"))
OMNIBUS = "Regulation (EU) 2026/1744"


@pytest.fixture(scope="module")
def packs():
    return [pack_parse(path=path) for path in PACK_FILES]


@pytest.fixture(scope="module")
def ai_act(packs):
    (pack,) = [p for p in packs if p.regulation["key"] == "eu-ai-act"]
    return {spec.key: spec for spec in pack.milestones}


def test_both_packs_ship_and_parse(packs):
    assert [p.regulation["key"] for p in packs] == ["eu-ai-act", "eu-digital-agenda"]


def test_every_entry_is_sourced_and_dated_by_a_verification(packs):
    for pack in packs:
        for spec in pack.milestones:
            fields = spec.fields
            assert fields["source_url"].startswith("https://"), spec.key
            assert fields["legal_basis"], spec.key
            assert fields["verified_on"] <= dt.date(2026, 11, 27), spec.key
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
    ],
)
def test_the_dates_created_by_2026_1744_are_present(ai_act, key, date):
    assert str(ai_act[key].fields["date"]) == date
    assert "2026/1744" in ai_act[key].fields["legal_basis"] + ai_act[key].fields["source_url"]


def test_no_milestone_still_says_high_risk_applies_on_2_august_2026(ai_act):
    stale = [
        key
        for key, spec in ai_act.items()
        if "high_risk_annex_iii" in spec.scopes
        and spec.fields["category"] == "application"
        and str(spec.fields["date"]) == "2026-08-02"
        and not key.startswith("ai-act-legacy")
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
