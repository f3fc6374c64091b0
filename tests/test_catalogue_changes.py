"""The catalogue stays right: editors' work survives restarts and reloads, every path that
changes a date goes through one service, and changes reach followers after commit."""

from __future__ import annotations

import datetime as dt
import itertools
import re
import shlex
from pathlib import Path

import pytest
from django.core.management import call_command
from django.urls import reverse

from tests.test_admin import _change_data
from tracker.catalogue.events import change_consume, changes_publish_pending
from tracker.catalogue.models import (
    Amendment,
    ChangeReceipt,
    Milestone,
    MilestoneChange,
    PackConflict,
    Regulation,
    Role,
)
from tracker.catalogue.pack_load import catalogue_load_file
from tracker.outbox.models import Message
from tracker.reminders.changes import milestone_change_apply
from tracker.reminders.models import Subscription
from tracker.reminders.services import reminders_plan

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parent.parent
PACKS = ROOT / "tests" / "packs"
TODAY = dt.date(2026, 11, 29)


@pytest.fixture(autouse=True)
def _today(time_machine):
    time_machine.move_to(dt.datetime(2026, 11, 29, 10, 0, tzinfo=dt.UTC), tick=False)


@pytest.fixture
def follower(loaded_small_pack):
    """Ada follows the whole Test Act, 30 and 7 days ahead."""
    subscription = Subscription.objects.create(
        email="ada@example.org", status="active", lead_days=[30, 7],
        regulation=Regulation.objects.get(key="test-act"),
    )  # fmt: skip
    reminders_plan(subscription=subscription, today=TODAY)
    return subscription


def _edited_pack(tmp_path: Path, *replacements: tuple[str, str]) -> Path:
    text = (PACKS / "small.yaml").read_text()
    for old, new in replacements:
        assert old in text
        text = text.replace(old, new)
    path = tmp_path / "small.yaml"
    path.write_text(text)
    return path


def _amend_in_admin(client, milestone, new_date="2028-03-01", act="Regulation (EU) 2099/1"):
    return client.post(
        reverse("admin:catalogue_milestone_amend", args=[milestone.pk]),
        {"new_date": new_date, "amending_act": act, "source_url": "https://example.org/2099-1",
         "confidence": "high"},
    )  # fmt: skip


def _make_run_commands() -> list[list[str]]:
    """The manage.py commands `make run` runs before it starts the processes."""
    recipe = (ROOT / "Makefile").read_text().split("\nrun:")[1].split("\n\n")[0]
    commands = re.findall(r"manage\.py (.+)", recipe)
    assert any(c.startswith("catalogue_load") for c in commands)
    return [shlex.split(c) for c in commands]


def _consistent(milestone: Milestone) -> None:
    """The amendment table, date and original date never disagree."""
    amendments = list(milestone.amendments.order_by("recorded_at", "id"))
    if amendments:
        assert milestone.original_date == amendments[0].old_date
        assert milestone.date == amendments[-1].new_date
        for earlier, later in itertools.pairwise(amendments):
            assert earlier.new_date == later.old_date
    else:
        assert milestone.original_date is None


# Restart safety -----------------------------------------------------------------------------


def test_starting_the_product_again_keeps_an_amendment_recorded_in_the_admin(
    client, editor, ai_act_catalogue, after_commit, settings, tmp_path
):
    settings.STATIC_ROOT = tmp_path / "static"
    for command in _make_run_commands():
        call_command(*command, verbosity=0)
    annex_iii = Milestone.objects.get(key="ai-act-high-risk-annex-iii-apply")
    client.force_login(editor)
    with after_commit():
        _amend_in_admin(client, annex_iii, new_date="2028-06-01")
    messages_before = Message.objects.count()
    changes_before = MilestoneChange.objects.count()

    with after_commit():
        for command in _make_run_commands():
            call_command(*command, verbosity=0)

    annex_iii.refresh_from_db()
    assert annex_iii.date == dt.date(2028, 6, 1)
    assert annex_iii.history.first().history_change_reason.startswith("Amended by")
    assert Message.objects.count() == messages_before
    assert MilestoneChange.objects.count() == changes_before
    _consistent(annex_iii)


def test_a_pack_change_the_editor_did_not_touch_is_applied_with_one_notice(
    client, editor, follower, after_commit, tmp_path
):
    client.force_login(editor)
    with after_commit():
        _amend_in_admin(client, Milestone.objects.get(key="test-high-risk"))
    Message.objects.all().delete()
    edited = _edited_pack(tmp_path, ("date: 2028-08-02", "date: 2028-09-01"))

    with after_commit():
        report = catalogue_load_file(path=edited)

    assert report.applied == ["test-review: date"]
    assert report.conflicts == []
    assert Milestone.objects.get(key="test-review").date == dt.date(2028, 9, 1)
    assert Milestone.objects.get(key="test-high-risk").date == dt.date(2028, 3, 1)
    notice = Message.objects.get()
    assert (notice.kind, notice.to_email) == ("date_moved", "ada@example.org")
    assert "The Commission reviews the Act" in notice.subject


def test_a_pack_change_to_a_field_the_editor_changed_is_a_conflict_and_overwrites_nothing(
    client, editor, follower, after_commit, tmp_path
):
    high_risk = Milestone.objects.get(key="test-high-risk")
    client.force_login(editor)
    with after_commit():
        _amend_in_admin(client, high_risk)
    Message.objects.all().delete()
    edited = _edited_pack(
        tmp_path,
        ("    date: 2027-12-02\n", "    date: 2028-01-10\n"),
        ("        effective: 2026-07-27\n        confidence: high\n",
         "        effective: 2026-07-27\n        confidence: high\n"
         "      - from: 2027-12-02\n        to: 2028-01-10\n        act: Regulation (EU) 2027/5\n"
         "        source_url: https://example.org/2027-5\n        confidence: medium\n"),
    )  # fmt: skip

    with after_commit():
        report = catalogue_load_file(path=edited)
        again = catalogue_load_file(path=edited, force=True)

    high_risk.refresh_from_db()
    assert report.conflicts == ["test-high-risk: date", "test-high-risk: amendments"]
    assert again.conflicts == report.conflicts
    assert high_risk.date == dt.date(2028, 3, 1)
    assert not Message.objects.exists()
    conflict = PackConflict.objects.get(field="date")
    assert (conflict.current_value, conflict.pack_value, conflict.base_value) == (
        "2028-03-01", "2028-01-10", "2027-12-02",
    )  # fmt: skip
    assert conflict.pack_source == "https://example.org/2027-5"
    assert conflict.current_source.startswith("editor, ")
    assert "Amended by Regulation (EU) 2099/1" in conflict.current_source

    # An editor takes the pack's date in the admin: applied once, one notice
    changelist = reverse("admin:catalogue_packconflict_changelist")
    page = client.get(changelist)
    assert "2028-01-10" in page.content.decode()
    with after_commit():
        selected = [c.pk for c in PackConflict.objects.all()]
        for _ in range(2):
            client.post(changelist, {"action": "take_packs", "_selected_action": selected})
        catalogue_load_file(path=edited, force=True)

    high_risk.refresh_from_db()
    assert high_risk.date == dt.date(2028, 1, 10)
    _consistent(high_risk)
    assert list(high_risk.amendments.values_list("amending_act", flat=True)) == [
        "Regulation (EU) 2026/1744", "Regulation (EU) 2099/1", "Regulation (EU) 2027/5",
    ]  # fmt: skip
    assert Message.objects.filter(kind="date_moved").count() == 1
    assert set(PackConflict.objects.values_list("status", flat=True)) == {"taken"}


def test_keeping_our_value_settles_the_conflict_for_later_loads(
    client, editor, follower, after_commit, tmp_path
):
    entry = Milestone.objects.get(key="test-entry-into-force")
    client.force_login(editor)
    client.post(
        reverse("admin:catalogue_milestone_change", args=[entry.pk]),
        _change_data(entry, title="The Test Act is in force"),
    )
    edited = _edited_pack(
        tmp_path, ("title: The Test Act enters into force", "title: Entry into force")
    )
    catalogue_load_file(path=edited)
    conflict = PackConflict.objects.get()

    client.post(
        reverse("admin:catalogue_packconflict_changelist"),
        {"action": "keep_ours", "_selected_action": [conflict.pk]},
    )
    later = catalogue_load_file(path=edited, force=True)

    assert Milestone.objects.get(key="test-entry-into-force").title == "The Test Act is in force"
    assert PackConflict.objects.get().status == "kept"
    assert (later.conflicts, later.applied, later.kept) == (
        [], [], ["test-entry-into-force: title"],
    )  # fmt: skip


def test_a_dry_run_reports_and_writes_nothing(follower, tmp_path, capsys):
    edited = _edited_pack(tmp_path, ("date: 2028-08-02", "date: 2028-09-01"))
    changes, history = MilestoneChange.objects.count(), Milestone.history.count()

    call_command("catalogue_load", str(edited), "--dry-run")

    out = capsys.readouterr().out
    assert "[dry run] small.yaml: 0 created, 1 applied" in out
    assert "  applied test-review: date" in out
    assert Milestone.objects.get(key="test-review").date == dt.date(2028, 8, 2)
    assert (MilestoneChange.objects.count(), Milestone.history.count()) == (changes, history)


def test_a_pack_that_only_restates_the_catalogue_sends_no_notice(follower, after_commit, tmp_path):
    review = "verified_on: 2026-11-2{}\n    roles: [provider]\n    scopes: [all]"
    edited = _edited_pack(tmp_path, (review.format(7), review.format(8)))

    with after_commit():
        report = catalogue_load_file(path=edited)

    assert report.applied == ["test-review: verified_on"]
    assert not Message.objects.exists()
    assert (
        not MilestoneChange.objects.filter(milestone__key="test-review")
        .exclude(kind="created")
        .exists()
    )


# One path for every change -----------------------------------------------------------------


def _move_by_change_form(client, milestone):
    client.post(
        reverse("admin:catalogue_milestone_change", args=[milestone.pk]),
        _change_data(milestone, date="2028-09-01"),
    )


def _move_by_amendment(client, milestone):
    _amend_in_admin(client, milestone, new_date="2028-09-01")


def _move_by_revert(client, milestone):
    version = milestone.history.filter(date=dt.date(2028, 9, 1)).order_by("history_date").first()
    client.post(
        reverse("admin:catalogue_milestone_simple_history", args=[milestone.pk, version.pk]),
        _change_data(milestone, date="2028-09-01"),
    )


def _move_by_pack(client, milestone, tmp_path):
    catalogue_load_file(path=_edited_pack(tmp_path, ("date: 2028-08-02", "date: 2028-09-01")))


@pytest.mark.parametrize("path", ["change form", "amendment", "history revert", "pack load"])
def test_every_path_that_moves_a_date_replans_and_notifies_the_same_way(
    path, client, editor, follower, after_commit, tmp_path
):
    review = Milestone.objects.get(key="test-review")
    client.force_login(editor)
    if path == "history revert":  # give the history a version at the new date, then undo it
        for date in ("2028-09-01", "2028-08-02"):
            client.post(
                reverse("admin:catalogue_milestone_change", args=[review.pk]),
                _change_data(review, date=date),
            )
        review.refresh_from_db()
    Message.objects.all().delete()
    MilestoneChange.objects.all().delete()

    with after_commit():
        if path == "pack load":
            _move_by_pack(client, review, tmp_path)
        else:
            {"change form": _move_by_change_form, "amendment": _move_by_amendment,
             "history revert": _move_by_revert}[path](client, review)  # fmt: skip

    review.refresh_from_db()
    change = MilestoneChange.objects.get()
    assert (change.kind, change.old_date, change.new_date) == (
        "moved", dt.date(2028, 8, 2), dt.date(2028, 9, 1),
    )  # fmt: skip
    assert change.origin == {"change form": "admin", "amendment": "amendment",
                             "history revert": "revert", "pack load": "pack"}[path]  # fmt: skip
    assert review.history.first().date == dt.date(2028, 9, 1)
    _consistent(review)
    assert sorted(
        follower.reminders.filter(milestone=review, status="pending").values_list(
            "occurrence", "lead_days"
        )
    ) == [(dt.date(2028, 9, 1), 7), (dt.date(2028, 9, 1), 30),
          (dt.date(2032, 9, 1), 7), (dt.date(2032, 9, 1), 30),
          (dt.date(2036, 9, 1), 7), (dt.date(2036, 9, 1), 30)]  # fmt: skip
    notice = Message.objects.get()
    assert (notice.kind, notice.to_email) == ("date_moved", "ada@example.org")
    assert "Was: 2 August 2028" in notice.body_text
    assert ChangeReceipt.objects.filter(status="done").count() == 3  # one per consumer


def test_a_revert_that_would_move_an_amended_date_is_refused_with_a_pointer(
    client, editor, follower, after_commit
):
    high_risk = Milestone.objects.get(key="test-high-risk")
    first = high_risk.history.order_by("history_date").first()
    client.force_login(editor)
    with after_commit():
        _amend_in_admin(client, high_risk)
    changes = MilestoneChange.objects.count()

    response = client.post(
        reverse("admin:catalogue_milestone_simple_history", args=[high_risk.pk, first.pk]),
        _change_data(high_risk, date="2027-12-02"),
    )
    direct = client.post(
        reverse("admin:catalogue_milestone_change", args=[high_risk.pk]),
        _change_data(high_risk, date="2027-01-01"),
    )

    for answer in (response, direct):
        assert answer.status_code == 200
        assert "use “Record an amendment”" in answer.content.decode()
    high_risk.refresh_from_db()
    assert high_risk.date == dt.date(2028, 3, 1)
    assert MilestoneChange.objects.count() == changes
    _consistent(high_risk)


def test_a_milestone_added_in_the_admin_is_planned_for_narrowed_followers_at_once(
    client, editor, loaded_small_pack, after_commit
):
    act = Regulation.objects.get(key="test-act")
    deployers = Subscription.objects.create(email="d@example.org", status="active", regulation=act)
    deployers.roles.set([Role.objects.get(key="deployer")])
    providers = Subscription.objects.create(email="p@example.org", status="active", regulation=act)
    providers.roles.set([Role.objects.get(key="provider")])
    client.force_login(editor)
    data = _change_data(
        Milestone.objects.get(key="test-review"), key="test-deployer-duty",
        title="Deployers inform workers", kind="fixed", date="2027-06-01", every_months="",
        category="application", legal_basis="Art. 26(7)",
        roles=[Role.objects.get(key="deployer").pk], **{"amendments-INITIAL_FORMS": 0},
    )  # fmt: skip

    with after_commit():
        response = client.post(reverse("admin:catalogue_milestone_add"), data)

    assert response.status_code == 302
    assert deployers.reminders.filter(milestone__key="test-deployer-duty").count() == 4
    assert not providers.reminders.filter(milestone__key="test-deployer-duty").exists()
    assert MilestoneChange.objects.get(milestone__key="test-deployer-duty").kind == "created"


def test_editing_only_the_roles_replans_the_followers(
    client, editor, loaded_small_pack, after_commit
):
    act = Regulation.objects.get(key="test-act")
    deployers = Subscription.objects.create(email="d@example.org", status="active", regulation=act)
    deployers.roles.set([Role.objects.get(key="deployer")])
    review = Milestone.objects.get(key="test-review")
    client.force_login(editor)

    with after_commit():
        client.post(
            reverse("admin:catalogue_milestone_change", args=[review.pk]),
            {**_change_data(review), "roles": [r.pk for r in Role.objects.all()]},
        )

    assert deployers.reminders.filter(milestone=review).count() == 12  # 3 occurrences x 4 leads
    assert review.history.first().history_user == editor
    assert MilestoneChange.objects.get(milestone=review, kind="details").changes == {
        "roles": [["provider"], ["deployer", "provider"]]
    }


# Followers hear after commit ------------------------------------------------------------


@pytest.mark.parametrize("followers", [10, 1000])
def test_the_editors_request_costs_the_same_whatever_the_number_of_followers(
    followers, client, editor, loaded_small_pack, django_assert_num_queries
):
    act = Regulation.objects.get(key="test-act")
    Subscription.objects.bulk_create(
        Subscription(email=f"s{n}@example.org", status="active", regulation=act)
        for n in range(followers)
    )
    high_risk = Milestone.objects.get(key="test-high-risk")
    client.force_login(editor)
    client.get("/admin/")  # the session and the user are loaded once

    with django_assert_num_queries(44):
        response = _amend_in_admin(client, high_risk)

    assert response.status_code == 302
    assert not Message.objects.exists()  # the followers are told by a worker, after commit


def test_a_consumer_run_twice_sends_one_notice_per_follower(follower, editor, after_commit):
    high_risk = Milestone.objects.get(key="test-high-risk")
    with after_commit():
        _amend_in_admin_service(high_risk, editor)
    change = MilestoneChange.objects.get(kind="moved")
    ChangeReceipt.objects.filter(change=change).delete()  # as if the worker died before its receipt

    with after_commit():
        change_consume(change_id=change.pk, consumer="reminders", handler=milestone_change_apply)

    assert Message.objects.filter(kind="date_moved").count() == 1
    assert follower.reminders.filter(milestone=high_risk, status="pending").count() == 2


def _amend_in_admin_service(milestone, editor, new_date=dt.date(2028, 3, 1)):
    from tracker.catalogue.services import milestone_amend

    return milestone_amend(
        milestone=milestone, new_date=new_date, amending_act="Regulation (EU) 2099/1",
        source_url="https://example.org/2099-1", confidence="high", recorded_by=editor,
    )  # fmt: skip


def test_one_bad_subscription_fails_alone_and_is_recorded(follower, editor, after_commit):
    broken = Subscription.objects.create(
        email="typo@example.org", status="active", timezone="Europe/Brusels",
        regulation=follower.regulation,
    )  # fmt: skip

    with after_commit():
        _amend_in_admin_service(Milestone.objects.get(key="test-high-risk"), editor)

    receipt = ChangeReceipt.objects.get(consumer="reminders", change__kind="moved")
    assert receipt.status == "done"
    assert [e["subscription"] for e in receipt.errors] == [broken.pk]
    assert list(Message.objects.values_list("to_email", flat=True)) == ["ada@example.org"]


def test_two_moves_in_a_row_announce_only_the_date_in_force(follower, editor, after_commit):
    high_risk = Milestone.objects.get(key="test-high-risk")
    _amend_in_admin_service(high_risk, editor, dt.date(2028, 3, 1))
    _amend_in_admin_service(high_risk, editor, dt.date(2028, 4, 1))

    with after_commit():
        for change in MilestoneChange.objects.filter(kind="moved").order_by("pk"):
            change_consume(
                change_id=change.pk, consumer="reminders", handler=milestone_change_apply
            )

    notice = Message.objects.get()
    assert "1 April 2028" in notice.subject


def test_an_unacknowledged_change_is_offered_again(follower, editor, after_commit, time_machine):
    MilestoneChange.objects.all().delete()  # the pack load's, never published in this test
    _amend_in_admin_service(Milestone.objects.get(key="test-high-risk"), editor)  # never published
    assert changes_publish_pending(now=dt.datetime.now(dt.UTC)) == 0  # too fresh to call lost

    later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=3)
    with after_commit():
        offered = changes_publish_pending(now=later)

    assert offered == 3  # the reminder engine, the workspace and the webhooks
    assert Message.objects.filter(kind="date_moved").count() == 1
    assert changes_publish_pending(now=later) == 0


def test_a_withdrawn_milestone_retires_the_organisations_items_and_a_restored_one_returns(
    client, editor, ai_act_catalogue, after_commit
):
    from tests.factories import UserFactory
    from tracker.workspace.models import AISystem
    from tracker.workspace.services import organisation_create, system_save

    org = organisation_create(name="Acme", owner=UserFactory(username="o"))
    system_save(system=AISystem(
        organisation=org, name="CV screener", purpose="Ranks CVs", roles=["provider"],
        risk_class="high_risk_annex_iii", annex_iii_point="4a",
        placed_on_market=dt.date(2028, 1, 1),
    ))  # fmt: skip
    annex_iii = Milestone.objects.get(key="ai-act-high-risk-annex-iii-apply")
    assert org.items.get(milestone=annex_iii).applies
    client.force_login(editor)

    with after_commit():
        client.post(
            reverse("admin:catalogue_milestone_change", args=[annex_iii.pk]),
            _change_data(annex_iii, status="withdrawn"),
        )
    retired = org.items.get(milestone=annex_iii).applies
    with after_commit():
        client.post(
            reverse("admin:catalogue_milestone_change", args=[annex_iii.pk]),
            _change_data(annex_iii, status="in_force"),
        )

    assert retired is False
    assert org.items.get(milestone=annex_iii).applies is True
    assert Amendment.objects.filter(milestone=annex_iii).count() == annex_iii.amendments.count()


def test_an_editor_sees_the_change_log_with_its_receipts(client, editor, follower, after_commit):
    with after_commit():
        _amend_in_admin_service(Milestone.objects.get(key="test-high-risk"), editor)
    change = MilestoneChange.objects.get(kind="moved")
    client.force_login(editor)

    listing = client.get(reverse("admin:catalogue_milestonechange_changelist"))
    detail = client.get(reverse("admin:catalogue_milestonechange_change", args=[change.pk]))

    assert listing.status_code == detail.status_code == 200
    assert "Regulation (EU) 2099/1" in detail.content.decode()
    assert detail.content.decode().count(">Done<") == 3  # every consumer acknowledged it


def test_a_failed_consumer_is_offered_again_after_a_backoff(follower, editor):
    MilestoneChange.objects.all().delete()
    _amend_in_admin_service(Milestone.objects.get(key="test-high-risk"), editor)
    change = MilestoneChange.objects.get()

    def broken(change):
        raise RuntimeError("the template is missing")

    receipt = change_consume(change_id=change.pk, consumer="reminders", handler=broken)
    now = dt.datetime.now(dt.UTC)

    assert (receipt.status, receipt.attempts) == ("failed", 1)
    assert receipt.errors == ["RuntimeError: the template is missing"]
    # The workspace and the webhooks never answered either; the failed reminders consumer
    # waits for its backoff
    assert changes_publish_pending(now=now + dt.timedelta(minutes=3)) == 2
    assert changes_publish_pending(now=now + dt.timedelta(minutes=4, seconds=30)) == 3


def test_a_follower_narrowed_out_by_a_role_change_loses_the_reminders(
    client, editor, loaded_small_pack, after_commit
):
    act = Regulation.objects.get(key="test-act")
    providers = Subscription.objects.create(email="p@example.org", status="active", regulation=act)
    providers.roles.set([Role.objects.get(key="provider")])
    review = Milestone.objects.get(key="test-review")
    reminders_plan(subscription=providers, today=TODAY)
    assert providers.reminders.filter(milestone=review).exists()
    client.force_login(editor)

    with after_commit():
        client.post(
            reverse("admin:catalogue_milestone_change", args=[review.pk]),
            {**_change_data(review), "roles": [Role.objects.get(key="deployer").pk]},
        )

    assert not providers.reminders.filter(milestone=review).exists()
    receipt = ChangeReceipt.objects.get(consumer="reminders", change__milestone=review)
    assert receipt.outcome["unfollowed"] == 12
