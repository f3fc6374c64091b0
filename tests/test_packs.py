"""The pack loader: idempotent, updates in place with history, rejects bad files whole."""

import pytest
from django.core.management import CommandError, call_command

from tracker.catalogue.models import Amendment, Milestone, Regulation, Role, Scope
from tracker.catalogue.pack_load import catalogue_load_file
from tracker.catalogue.packs import PackError, pack_parse

pytestmark = pytest.mark.django_db


def _counts():
    return (
        Regulation.objects.count(),
        Milestone.objects.count(),
        Amendment.objects.count(),
        Role.objects.count(),
        Scope.objects.count(),
        Milestone.history.count(),
        Amendment.history.count(),
    )


def test_loading_a_pack_creates_every_entry(small_pack):
    report = catalogue_load_file(path=small_pack)

    assert len(report.created) == 4
    high_risk = Milestone.objects.get(key="test-high-risk")
    assert str(high_risk.date) == "2027-12-02"
    assert str(high_risk.original_date) == "2026-08-02"
    assert high_risk.amendments.get().amending_act == "Regulation (EU) 2026/1744"
    assert sorted(high_risk.roles.values_list("key", flat=True)) == ["provider"]
    incident = Milestone.objects.get(key="test-incident")
    assert (incident.date, incident.offset_days) == (None, 15)


def test_loading_the_same_pack_twice_changes_nothing(small_pack):
    catalogue_load_file(path=small_pack)
    before = _counts()

    report = catalogue_load_file(path=small_pack)
    forced = catalogue_load_file(path=small_pack, force=True)

    assert report.file_unchanged
    assert (forced.created, forced.applied, forced.conflicts, forced.unchanged) == ([], [], [], 4)
    assert _counts() == before


def test_an_edited_pack_updates_in_place_and_the_change_is_in_the_history(tmp_path, small_pack):
    catalogue_load_file(path=small_pack)
    pk = Milestone.objects.get(key="test-entry-into-force").pk
    edited = tmp_path / "small.yaml"
    edited.write_text(
        small_pack.read_text().replace(
            "title: The Test Act enters into force", "title: The Test Act is now in force"
        )
    )

    report = catalogue_load_file(path=edited)

    assert report.applied == ["test-entry-into-force: title"]
    milestone = Milestone.objects.get(key="test-entry-into-force")
    assert milestone.pk == pk
    assert milestone.title == "The Test Act is now in force"
    latest = milestone.history.first()
    assert latest.history_type == "~"
    assert latest.history_change_reason == "Loaded from small.yaml: title"
    delta = latest.diff_against(latest.prev_record)
    assert [(c.field, c.old, c.new) for c in delta.changes] == [
        ("title", "The Test Act enters into force", "The Test Act is now in force")
    ]


def test_a_role_change_in_the_pack_is_applied(tmp_path, small_pack):
    catalogue_load_file(path=small_pack)
    edited = tmp_path / "small.yaml"
    edited.write_text(
        small_pack.read_text().replace("roles: [provider, deployer]", "roles: [deployer]")
    )

    report = catalogue_load_file(path=edited)

    assert report.applied == ["test-entry-into-force: roles"]
    milestone = Milestone.objects.get(key="test-entry-into-force")
    assert list(milestone.roles.values_list("key", flat=True)) == ["deployer"]


BAD_PACKS = {
    "missing source": (
        ("    source_url: https://example.org/test-act\n    verified_on: 2026-11-27\n"
         "    roles: [provider]\n    scopes: [high_risk_annex_iii]\n    amendments:"),
        "    verified_on: 2026-11-27\n    roles: [provider]\n    scopes: [high_risk_annex_iii]\n"
        "    amendments:",
        "line 26, milestone 'test-high-risk': source_url is missing",
    ),
    "duplicate key": (
        "key: test-review",
        "key: test-high-risk",
        "line 45, milestone 'test-high-risk': duplicate key, first used on line 26",
    ),
    "unknown role": (
        "roles: [provider, deployer]",
        "roles: [provider, regulator]",
        "line 14, milestone 'test-entry-into-force': unknown role(s): regulator",
    ),
    "bad date": (
        "date: 2024-08-01",
        "date: 1 August 2024",
        "line 14, milestone 'test-entry-into-force': date must be a date written YYYY-MM-DD",
    ),
    "relative with a date": (
        "    offset_days: 15\n",
        "    offset_days: 15\n    date: 2025-01-01\n",
        "milestone 'test-incident': a relative milestone has no date",
    ),
    "broken amendment chain": (
        "        to: 2027-12-02",
        "        to: 2027-12-03",
        "milestone 'test-high-risk': date 2027-12-02 differs from the last amendment's to",
    ),
    "not yaml": (
        "  - key: test-review",
        "  - key: [test-review",
        "not valid YAML",
    ),
    "offset in days and in hours": (
        "    offset_days: 15\n",
        "    offset_days: 15\n    offset_hours: 360\n",
        "line 58, milestone 'test-incident': give offset_days or offset_hours, not both",
    ),
    "no offset at all": (
        "    offset_days: 15\n",
        "",
        "line 58, milestone 'test-incident': a relative milestone needs offset_days (or "
        "offset_hours)",
    ),
    "zero hours": (
        "    offset_days: 15\n",
        "    offset_hours: 0\n",
        "line 58, milestone 'test-incident': offset_hours must be a positive whole number",
    ),
    "hours written as text": (
        "    offset_days: 15\n",
        "    offset_hours: 24h\n",
        "line 58, milestone 'test-incident': offset_hours must be a positive whole number",
    ),
    "hours on a fixed date": (
        "    date: 2024-08-01\n",
        "    date: 2024-08-01\n    offset_hours: 24\n",
        "line 14, milestone 'test-entry-into-force': offset_days, offset_hours and trigger are "
        "only for relative milestones",
    ),
    "indicative not a boolean": (
        "    every_months: 48\n",
        "    every_months: 48\n    indicative: sometimes\n",
        "line 45, milestone 'test-review': indicative must be true or false, not 'sometimes'",
    ),
    "indicative relative deadline": (
        "    offset_days: 15\n",
        "    offset_days: 15\n    indicative: true\n",
        "line 58, milestone 'test-incident': indicative is only for fixed and recurring milestones",
    ),
    "bad verification date": (
        "verified_on: 2026-11-27\n    roles: [provider]\n    scopes: [all]\n  - key: test-incident",
        "verified_on: last week\n    roles: [provider]\n    scopes: [all]\n  - key: test-incident",
        "line 45, milestone 'test-review': verified_on must be a date written YYYY-MM-DD",
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", BAD_PACKS, ids=list(BAD_PACKS))
def test_a_bad_pack_is_rejected_with_the_entry_and_line_and_nothing_is_written(
    case, tmp_path, small_pack
):
    old, new, message = BAD_PACKS[case]
    text = small_pack.read_text()
    assert old in text
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace(old, new, 1))
    before = _counts()

    with pytest.raises(PackError) as caught:
        catalogue_load_file(path=bad)

    assert any(message in problem for problem in caught.value.problems), caught.value.problems
    assert _counts() == before


def test_a_bad_edit_to_a_loaded_pack_leaves_the_catalogue_as_it_was(tmp_path, small_pack):
    catalogue_load_file(path=small_pack)
    before = _counts()
    bad = tmp_path / "small.yaml"
    bad.write_text(
        small_pack.read_text()
        .replace("title: The Test Act enters into force", "title: Changed")
        .replace(
            "scopes: [all]\n  - key: test-high-risk", "scopes: [nope]\n  - key: test-high-risk"
        )
    )

    with pytest.raises(PackError):
        catalogue_load_file(path=bad)

    assert _counts() == before
    assert Milestone.objects.get(key="test-entry-into-force").title != "Changed"


def test_every_problem_is_reported_at_once(tmp_path, small_pack):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        small_pack.read_text()
        .replace("status: in_force", "status: maybe", 1)
        .replace("confidence: high\n    legal_basis: Art. 112(1)", "confidence: sure\n"
                 "    legal_basis: Art. 112(1)")
    )  # fmt: skip

    with pytest.raises(PackError) as caught:
        pack_parse(path=bad)

    assert len(caught.value.problems) == 2
    assert "status 'maybe' is not one of" in caught.value.problems[0]
    assert "'test-review'" in caught.value.problems[1]


def test_the_command_reports_what_it_did(small_pack, capsys):
    call_command("catalogue_load", str(small_pack))
    call_command("catalogue_load", str(small_pack))

    out = capsys.readouterr().out.splitlines()
    assert out[0] == (
        "small.yaml: 4 created, 0 applied, 0 kept (an editor's value stands), 0 in conflict, "
        "0 unchanged"
    )
    assert out[-1] == "small.yaml: unchanged since the last load, nothing to do"


def test_the_command_rejects_a_bad_file_with_a_readable_message(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("regulation: {key: x}\nmilestones: []\n")

    with pytest.raises(CommandError) as caught:
        call_command("catalogue_load", str(bad))

    assert "bad.yaml was rejected, nothing was written" in str(caught.value)
    assert "line 1, regulation: short_name is missing" in str(caught.value)
    assert Regulation.objects.count() == 0


def test_the_command_reports_a_missing_file(tmp_path):
    with pytest.raises(CommandError, match="cannot read the file"):
        call_command("catalogue_load", str(tmp_path / "nope.yaml"))


def test_hours_indicative_dates_and_unverified_entries_load(tmp_path, small_pack):
    # given an hour-counted deadline, an indicative yearly date and an entry not yet verified
    edited = tmp_path / "small.yaml"
    edited.write_text(
        small_pack.read_text()
        .replace("    offset_days: 15\n", "    offset_hours: 48\n")
        .replace("    every_months: 48\n", "    every_months: 48\n    indicative: true\n")
        .replace(
            "    verified_on: 2026-11-27\n    roles: [provider, deployer]",
            "    roles: [provider, deployer]",
        )
    )

    report = catalogue_load_file(path=edited)

    assert len(report.created) == 4
    incident = Milestone.objects.get(key="test-incident")
    assert (incident.offset_days, incident.offset_hours, incident.offset_label) == (
        None,
        48,
        "48 hours",
    )
    assert Milestone.objects.get(key="test-review").indicative is True
    assert Milestone.objects.get(key="test-high-risk").indicative is False
    assert Milestone.objects.get(key="test-entry-into-force").verified_on is None


def test_a_pack_moving_a_deadline_from_days_to_hours_updates_it_in_place(tmp_path, small_pack):
    catalogue_load_file(path=small_pack)
    edited = tmp_path / "small.yaml"
    edited.write_text(small_pack.read_text().replace("offset_days: 15\n", "offset_hours: 360\n"))

    report = catalogue_load_file(path=edited)

    assert report.applied == ["test-incident: offset_days, offset_hours"]
    assert report.conflicts == []
    incident = Milestone.objects.get(key="test-incident")
    assert (incident.offset_days, incident.offset_hours) == (None, 360)


def test_a_pack_marking_a_date_indicative_is_applied_and_announced(tmp_path, small_pack):
    catalogue_load_file(path=small_pack)
    edited = tmp_path / "small.yaml"
    edited.write_text(
        small_pack.read_text().replace(
            "    every_months: 48\n", "    every_months: 48\n    indicative: true\n"
        )
    )

    report = catalogue_load_file(path=edited)

    assert (report.applied, report.conflicts) == (["test-review: indicative"], [])
    review = Milestone.objects.get(key="test-review")
    assert review.indicative is True
    assert review.changes.first().changes == {"indicative": [False, True]}
