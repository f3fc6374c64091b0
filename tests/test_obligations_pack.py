"""The obligations pack: loaded after its milestones by the same three-way merge, checked by
the one conditions validator, and the shipped pack's 114 duties sourced and rated."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.urls import reverse

from tracker.catalogue.conditions import (
    fact_vocabulary,
    register_fact_vocabulary,
    validate_conditions,
)
from tracker.catalogue.models import (
    Milestone,
    MilestoneChange,
    Obligation,
    PackConflict,
    PackFile,
    PackRecord,
)
from tracker.catalogue.pack_load import catalogue_load_file, obligation_save
from tracker.catalogue.packs import PackError, obligation_pack_parse
from tracker.workspace import facts

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent
PACKS = Path(__file__).resolve().parent / "packs"
SMALL_OBLIGATIONS = PACKS / "obligations-small.yaml"
REAL_OBLIGATIONS = ROOT / "fixtures" / "obligations" / "eu-ai-act-obligations.yaml"
SMALL_KEYS = ["test-risk-management", "test-fria", "test-incident-reporting"]


@pytest.fixture
def small_duties(loaded_small_pack):
    """small.yaml's milestones and the three duties of obligations-small.yaml."""
    return catalogue_load_file(path=SMALL_OBLIGATIONS)


def _edited(tmp_path, *replacements) -> Path:
    """obligations-small.yaml with text replaced, under the same file name."""
    text = SMALL_OBLIGATIONS.read_text()
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new)
    path = tmp_path / SMALL_OBLIGATIONS.name
    path.write_text(text)
    return path


def _line_of(text: str, needle: str) -> int:
    return text[: text.index(needle)].count("\n") + 1


def _state():
    """Everything a load could write."""
    return (
        list(Obligation.objects.order_by("key").values()),
        Obligation.history.count(),
        Milestone.history.count(),
        MilestoneChange.objects.count(),
        list(PackRecord.objects.order_by("kind", "key").values("kind", "key", "pack", "values")),
        PackConflict.objects.count(),
        list(PackFile.objects.order_by("name").values_list("name", "sha256")),
    )


def _editor_changes(obligation: Obligation, editor, **values) -> None:
    for name, value in values.items():
        setattr(obligation, name, value)
    obligation_save(obligation=obligation, by=editor, reason="Edited in the admin")


# Loading ----------------------------------------------------------------------------------


def test_an_obligations_pack_creates_every_duty_on_its_milestone(loaded_small_pack):
    report = catalogue_load_file(path=SMALL_OBLIGATIONS)

    assert report.created == SMALL_KEYS
    assert (report.regulation, report.applied, report.conflicts) == ("test-act", [], [])
    fria = Obligation.objects.get(key="test-fria")
    assert fria.milestone == Milestone.objects.get(key="test-high-risk")
    assert (fria.article, fria.roles, fria.confidence) == ("Art. 27(1)", ["deployer"], "medium")
    assert fria.when == {"risk_class": ["high_risk_annex_iii"]}
    assert fria.when_any == [
        {"public_body": [True]},
        {"provides_public_services": [True]},
        {"annex_iii_point": ["5b", "5c"]},
    ]
    assert fria.unless == [{"annex_iii_point": ["2a"]}]
    assert fria.note == "Who counts as a public body is approximated by public_body."
    assert fria.verified_on is None
    incident = Obligation.objects.get(key="test-incident-reporting")
    assert incident.when["annex_i_section"] == ["A", ""]
    assert incident.milestone.key == "test-incident"
    record = fria.history.get()
    assert (record.history_type, record.history_change_reason) == (
        "+",
        "Loaded from obligations-small.yaml",
    )
    assert PackRecord.objects.filter(kind="obligation").count() == 3


def test_reloading_an_unchanged_obligations_pack_changes_nothing(small_duties):
    before = _state()

    again = catalogue_load_file(path=SMALL_OBLIGATIONS)
    forced = catalogue_load_file(path=SMALL_OBLIGATIONS, force=True)

    assert again.file_unchanged
    assert (forced.created, forced.applied, forced.kept, forced.conflicts) == ([], [], [], [])
    assert forced.unchanged == 3
    assert _state() == before


def test_what_only_the_pack_changed_is_applied_with_history(tmp_path, small_duties):
    edited = _edited(
        tmp_path,
        ("risk_class: [high_risk_annex_iii]\n    title: Risk management system",
         "risk_class: [high_risk_annex_iii, high_risk_annex_i]\n    title: Risk management"),
        ("article: \"Art. 9(1)\"\n    roles: [provider]",
         "article: \"Art. 9(1) and (2)\"\n    roles: [provider, product_manufacturer]"),
        ("documented and run over the whole life cycle.", "run over the whole life cycle."),
        ("relation to high-risk AI systems.\n    source_url: https://example.org/test-act",
         "relation to high-risk AI systems.\n    source_url: https://example.org/test-act/9"),
        ("confidence: high\n  - key: test-fria", "confidence: medium\n    note: Check 9(2).\n"
         "  - key: test-fria"),
    )  # fmt: skip

    report = catalogue_load_file(path=edited)

    fields = ["article", "roles", "when", "title", "done_when", "source_url", "confidence", "note"]
    assert report.applied == [f"test-risk-management: {', '.join(fields)}"]
    duty = Obligation.objects.get(key="test-risk-management")
    assert duty.when == {"risk_class": ["high_risk_annex_iii", "high_risk_annex_i"]}
    assert duty.roles == ["provider", "product_manufacturer"]
    assert (duty.title, duty.article, duty.confidence, duty.note, duty.source_url) == (
        "Risk management", "Art. 9(1) and (2)", "medium", "Check 9(2).",
        "https://example.org/test-act/9",
    )  # fmt: skip
    latest = duty.history.first()
    # The history's reason column holds 100 characters (PostgreSQL enforces it): cut, not lost.
    reason = latest.history_change_reason
    assert reason.startswith("Loaded from obligations-small.yaml: article, roles, when")
    assert (len(reason), reason[-1]) == (100, "…")
    changed = {c.field for c in latest.diff_against(latest.prev_record).changes}
    assert changed == set(fields)
    assert catalogue_load_file(path=edited, force=True).unchanged == 3


def test_an_editors_change_is_kept_when_the_pack_changes_another_field(
    tmp_path, editor, small_duties
):
    duty = Obligation.objects.get(key="test-fria")
    _editor_changes(duty, editor, title="FRIA before first use", unless=[])
    edited = _edited(tmp_path, ("The assessment is done", "The assessment is made"))

    report = catalogue_load_file(path=edited)

    assert report.applied == ["test-fria: done_when"]
    assert sorted(report.kept) == ["test-fria: title", "test-fria: unless"]
    assert report.conflicts == []
    duty.refresh_from_db()
    assert (duty.title, duty.unless) == ("FRIA before first use", [])
    assert duty.done_when.startswith("The assessment is made")
    assert duty.history.filter(history_user=editor).count() == 1


def test_a_field_both_changed_is_a_conflict_and_the_editors_value_stands(
    tmp_path, editor, small_duties
):
    duty = Obligation.objects.get(key="test-fria")
    _editor_changes(duty, editor, title="FRIA (editor)")
    edited = _edited(tmp_path, ("title: Fundamental rights impact assessment", "title: FRIA"))

    report = catalogue_load_file(path=edited)
    again = catalogue_load_file(path=edited, force=True)

    assert report.conflicts == ["test-fria: title"] == again.conflicts
    conflict = PackConflict.objects.get()
    assert (conflict.kind, conflict.key, conflict.field, conflict.milestone) == (
        "obligation", "test-fria", "title", None,
    )  # fmt: skip
    assert (conflict.base_value, conflict.current_value, conflict.pack_value) == (
        "Fundamental rights impact assessment", "FRIA (editor)", "FRIA",
    )  # fmt: skip
    assert conflict.current_source.startswith("editor, ")
    assert conflict.pack_source == "https://example.org/test-act"
    duty.refresh_from_db()
    assert duty.title == "FRIA (editor)"


@pytest.mark.parametrize(("action", "title", "status"), [
    ("take_packs", "FRIA", "taken"),
    ("keep_ours", "FRIA (editor)", "kept"),
])  # fmt: skip
def test_an_editor_resolves_an_obligation_conflict_in_the_admin(
    client, tmp_path, editor, small_duties, action, title, status
):
    duty = Obligation.objects.get(key="test-fria")
    _editor_changes(duty, editor, title="FRIA (editor)")
    edited = _edited(tmp_path, ("title: Fundamental rights impact assessment", "title: FRIA"))
    catalogue_load_file(path=edited)
    conflict = PackConflict.objects.get()
    client.force_login(editor)
    page = client.get(reverse("admin:catalogue_packconflict_change", args=[conflict.pk]))
    assert reverse("admin:catalogue_obligation_change", args=[duty.pk]) in page.content.decode()

    response = client.post(
        reverse("admin:catalogue_packconflict_changelist"),
        {"action": action, "_selected_action": [conflict.pk]},
    )

    assert response.status_code == 302
    conflict.refresh_from_db()
    duty.refresh_from_db()
    assert (conflict.status, conflict.resolved_by, duty.title) == (status, editor, title)
    # The pack's value is the base now: the next load neither asks again nor reverts.
    later = catalogue_load_file(path=edited, force=True)
    assert (later.conflicts, later.applied) == ([], [])
    assert PackConflict.objects.filter(status="open").count() == 0
    if action == "take_packs":
        record = duty.history.first()
        assert record.history_user == editor
        assert record.history_change_reason == "Took the pack's title from obligations-small.yaml"


def test_taking_the_packs_value_of_a_deleted_obligation_says_why(
    client, tmp_path, editor, small_duties
):
    duty = Obligation.objects.get(key="test-fria")
    _editor_changes(duty, editor, title="FRIA (editor)")
    catalogue_load_file(path=_edited(tmp_path, ("title: Fundamental rights", "title: Basic")))
    conflict = PackConflict.objects.get()
    duty.delete()
    client.force_login(editor)

    response = client.post(
        reverse("admin:catalogue_packconflict_changelist"),
        {"action": "take_packs", "_selected_action": [conflict.pk]},
        follow=True,
    )

    assert response.status_code == 200
    assert "was deleted from the catalogue" in response.content.decode()
    assert PackConflict.objects.get().status == "open"


def test_an_obligation_missing_from_a_newer_pack_is_reported_not_deleted(tmp_path, small_duties):
    text = SMALL_OBLIGATIONS.read_text()
    start, end = text.index("  - key: test-fria"), text.index("  - key: test-incident-reporting")
    shorter = tmp_path / SMALL_OBLIGATIONS.name
    shorter.write_text(text[:start] + text[end:])

    report = catalogue_load_file(path=shorter)

    assert report.not_in_pack == ["test-fria"]
    assert report.unchanged == 2
    assert Obligation.objects.filter(key="test-fria").exists()


def test_an_obligation_an_editor_deleted_is_not_recreated(small_duties):
    Obligation.objects.get(key="test-fria").delete()

    report = catalogue_load_file(path=SMALL_OBLIGATIONS, force=True)

    assert (report.deleted, report.created) == (["test-fria"], [])
    assert not Obligation.objects.filter(key="test-fria").exists()


# Refusals ---------------------------------------------------------------------------------


def test_an_unknown_milestone_is_refused_naming_the_entry_and_the_field(
    tmp_path, loaded_small_pack
):
    edited = _edited(
        tmp_path, ("milestone: test-incident\n", "milestone: test-no-such-milestone\n")
    )
    line = _line_of(edited.read_text(), "- key: test-incident-reporting")
    before = _state()

    with pytest.raises(PackError) as caught:
        catalogue_load_file(path=edited)

    assert caught.value.problems == [
        f"line {line}, obligation 'test-incident-reporting': milestone: unknown milestone "
        "'test-no-such-milestone'"
    ]
    assert _state() == before


def test_an_entry_the_model_refuses_on_creation_rejects_the_file_with_its_name(
    monkeypatch, loaded_small_pack
):
    # The pack checks what the model checks; should the model ever refuse more, the file is
    # refused whole with the entry named, not half loaded with a traceback.
    def refuse(obligation):
        if obligation.key == "test-fria":
            raise ValidationError({"done_when": "Too vague."})

    monkeypatch.setattr(Obligation, "clean", refuse)
    line = _line_of(SMALL_OBLIGATIONS.read_text(), "- key: test-fria")

    with pytest.raises(PackError) as caught:
        catalogue_load_file(path=SMALL_OBLIGATIONS)

    assert caught.value.problems == [f"line {line}, obligation 'test-fria': done_when: Too vague."]
    assert not Obligation.objects.exists()
    assert not PackRecord.objects.filter(kind="obligation").exists()


def test_obligations_of_an_unloaded_regulation_are_refused(db):
    with pytest.raises(PackError) as caught:
        catalogue_load_file(path=SMALL_OBLIGATIONS)

    assert caught.value.problems == [
        "regulation: 'test-act' is not in the catalogue; load its pack first"
    ]
    assert not Obligation.objects.exists()
    assert not PackFile.objects.exists()


UNKNOWN_FACTS = {
    "contract name for a fact": (
        "      risk_class: [high_risk_annex_iii, high_risk_annex_i]",
        "      risk: [high_risk_annex_iii, high_risk_annex_i]",
        "when: Unknown fact “risk”. Did you mean “risk_class”? Facts: risk_class, ",
    ),
    "unknown Annex III point": (
        "      - annex_iii_point: [2a]",
        "      - annex_iii_point: [9z]",
        "unless: Map 1: Unknown value(s) of “annex_iii_point”: 9z. Allowed: 1a, 1b,",
    ),
    "text for a boolean": (
        "      - public_body: [true]",
        '      - public_body: ["true"]',
        "when_any: Map 1: Unknown value(s) of “public_body”: true. Allowed: true, false.",
    ),
    "a value not in a list": (
        "      - provides_public_services: [true]",
        "      - provides_public_services: true",
        "when_any: Map 2: Write the values of “provides_public_services” as a list, such as "
        "[true].",
    ),
    "unknown role": (
        "    roles: [deployer]",
        "    roles: [deployer, regulator]",
        "roles: Unknown role(s): regulator. Roles: provider, deployer, importer, distributor, "
        "authorised_representative, product_manufacturer.",
    ),
}


@pytest.mark.parametrize(("old", "new", "message"), UNKNOWN_FACTS.values(), ids=UNKNOWN_FACTS)
def test_an_unknown_fact_name_or_value_is_refused_naming_the_entry_and_the_field(
    tmp_path, loaded_small_pack, old, new, message
):
    edited = _edited(tmp_path, (old, new))
    key = "test-incident-reporting" if "risk:" in new else "test-fria"
    line = _line_of(edited.read_text(), f"- key: {key}")

    with pytest.raises(PackError) as caught:
        catalogue_load_file(path=edited)

    (problem,) = caught.value.problems
    assert problem.startswith(f"line {line}, obligation '{key}': {message}"), problem
    assert not Obligation.objects.exists()


def test_the_command_refuses_a_bad_obligations_pack_with_every_problem(tmp_path, loaded_small_pack):
    edited = _edited(
        tmp_path,
        ("milestone: test-incident\n", "milestone: test-nope\n"),
        ("source_url: https://example.org/test-act\n    confidence: medium",
         "source_url: not a url\n    confidence: sure"),
    )  # fmt: skip

    with pytest.raises(CommandError) as caught:
        call_command("catalogue_load", str(edited))

    message = str(caught.value)
    assert "obligations-small.yaml was rejected, nothing was written" in message
    assert "obligation 'test-fria': source_url is not a valid http(s) URL" in message
    assert "obligation 'test-fria': confidence 'sure' is not one of high, medium" in message
    assert not Obligation.objects.exists()


# The command ------------------------------------------------------------------------------


def test_obligations_load_after_their_milestones_whatever_order_they_are_given_in(db, capsys):
    call_command("catalogue_load", str(SMALL_OBLIGATIONS), str(PACKS / "small.yaml"))

    lines = capsys.readouterr().out.splitlines()
    summaries = [line for line in lines if not line.startswith(" ")]
    assert summaries == [
        "small.yaml: 4 created, 0 applied, 0 kept (an editor's value stands), 0 in conflict, "
        "0 unchanged",
        "obligations-small.yaml: 3 created, 0 applied, 0 kept (an editor's value stands), "
        "0 in conflict, 0 unchanged",
    ]
    assert Obligation.objects.count() == 3


def test_a_dry_run_of_both_packs_on_an_empty_catalogue_writes_nothing(db, capsys):
    call_command("catalogue_load", str(PACKS / "small.yaml"), str(SMALL_OBLIGATIONS), "--dry-run")

    out = capsys.readouterr().out
    assert "[dry run] obligations-small.yaml: 3 created" in out
    assert (Milestone.objects.count(), Obligation.objects.count()) == (0, 0)
    assert not PackFile.objects.exists()


def test_restarting_loads_every_pack_once_and_the_second_start_changes_nothing(db, capsys):
    call_command("catalogue_load")
    first = capsys.readouterr().out
    before = _state()

    call_command("catalogue_load")

    assert "eu-ai-act-obligations.yaml: 114 created" in first
    assert first.index("eu-ai-act.yaml: ") < first.index("eu-ai-act-obligations.yaml: ")
    assert capsys.readouterr().out.splitlines() == [
        "eu-ai-act.yaml: unchanged since the last load, nothing to do",
        "eu-digital-agenda.yaml: unchanged since the last load, nothing to do",
        "eu-ai-act-obligations.yaml: unchanged since the last load, nothing to do",
    ]
    assert _state() == before
    call_command("catalogue_load", "--force")
    assert "eu-ai-act-obligations.yaml: 0 created, 0 applied, 0 kept" in capsys.readouterr().out
    assert _state()[:6] == before[:6]


def test_the_command_reports_obligations_no_longer_in_the_pack(tmp_path, small_duties, capsys):
    text = SMALL_OBLIGATIONS.read_text()
    start, end = text.index("  - key: test-fria"), text.index("  - key: test-incident-reporting")
    shorter = tmp_path / SMALL_OBLIGATIONS.name
    shorter.write_text(text[:start] + text[end:])

    call_command("catalogue_load", str(shorter))

    assert "in the database but not in the pack (kept): test-fria" in capsys.readouterr().out


# The validator ----------------------------------------------------------------------------


def test_the_workspace_registers_its_fact_names_and_values():
    vocabulary = fact_vocabulary()

    expected = [*facts.MODEL_FIELDS, *facts.COMPANY_FLAGS]
    assert set(vocabulary) == set(expected) - {"name", "placed_on_market"}
    assert vocabulary["annex_i_section"] == ("A", "B", "")
    assert vocabulary["public_body"] == (True, False)
    assert vocabulary["roles"][0] == "provider"


def test_the_validator_collects_every_problem_by_field():
    with pytest.raises(ValidationError) as caught:
        validate_conditions(
            roles=[],
            when={"roles": ["provider"], "open_source": [1]},
            when_any=[{}],
            unless={"public_body": [True]},
        )

    assert caught.value.message_dict == {
        "roles": ["Name who owes the duty as a list of roles, such as [provider]."],
        "when": [
            "“roles” is not a condition: who owes the duty goes in roles.",
            "Unknown value(s) of “open_source”: 1. Allowed: true, false.",
        ],
        "when_any": ["Map 1: This map is empty: it would always hold. Name at least one fact."],
        "unless": [
            "Write unless as a list of condition maps, such as [{“public_body”: [true]}], or "
            "leave it empty."
        ],
    }


def test_without_a_registered_vocabulary_conditions_are_refused_not_waved_through():
    saved = fact_vocabulary()
    register_fact_vocabulary({})
    try:
        with pytest.raises(ValidationError, match="No fact vocabulary is registered"):
            validate_conditions(roles=["provider"], when={}, when_any=[], unless=[])
    finally:
        register_fact_vocabulary(saved)


# The shipped pack -------------------------------------------------------------------------


@pytest.fixture
def real_duties(ai_act_catalogue):
    catalogue_load_file(path=REAL_OBLIGATIONS)
    return list(Obligation.objects.select_related("milestone__regulation"))


def test_the_real_pack_loads_all_114_duties_on_ai_act_milestones(real_duties):
    assert len(real_duties) == 114 == len(obligation_pack_parse(path=REAL_OBLIGATIONS).obligations)
    assert {d.milestone.regulation.key for d in real_duties} == {"eu-ai-act"}


def test_every_shipped_duty_is_sourced_on_eur_lex_rated_and_not_marked_verified(real_duties):
    for duty in real_duties:
        assert duty.article.startswith("Art. "), duty.key
        assert duty.title and duty.done_when and duty.text, duty.key
        assert duty.source_url.startswith("https://eur-lex.europa.eu/eli/reg/"), duty.key
        assert duty.confidence in ("high", "medium", "low"), duty.key
        assert duty.verified_on is None, duty.key
        if duty.confidence in ("medium", "low"):
            assert duty.note.strip(), f"{duty.key} is {duty.confidence} without a note"
        if "as replaced by Regulation (EU) 2026/1744" in duty.article:
            assert duty.source_url == "https://eur-lex.europa.eu/eli/reg/2026/1744/oj", duty.key
    ratings = [d.confidence for d in real_duties]
    assert (ratings.count("high"), ratings.count("medium"), ratings.count("low")) == (100, 11, 3)
