"""Existing items keep their work when the workspace starts tracking duty by duty.

Items written before the duties migration (workspace 0009_duties_per_system) with a status, an
owner, notes, a target date, evidence links and an evidence piece; then the migration, the
obligations pack, and `manage.py workspace_sync`, as `make run` runs them: each duty item of a
milestone that had work starts with that work, the milestone item is stopped with the reason,
and running the command again changes nothing.
"""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from tests.duty_support import obligations_load
from tests.factories import UserFactory
from tracker.catalogue.models import Milestone

pytestmark = pytest.mark.django_db(transaction=True)
BEFORE = [("workspace", "0008_evidence_from_links")]
ANNEX_III = "ai-act-high-risk-annex-iii-apply"
LITERACY = "ai-act-ai-literacy-applies"


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def _latest():
    return MigrationExecutor(connection).loader.graph.leaf_nodes()


def _snapshot(apps) -> tuple:
    TrackedItem = apps.get_model("workspace", "TrackedItem")
    History = apps.get_model("workspace", "HistoricalTrackedItem")
    return list(TrackedItem.objects.order_by("pk").values()), History.objects.count()


def test_items_keep_their_work_after_the_migration_and_the_first_sync(ai_act_catalogue):
    officer = UserFactory(username="officer")
    milestones = {m.key: m.pk for m in Milestone.objects.filter(key__in=[ANNEX_III, LITERACY])}
    old = _migrate(BEFORE)
    Organisation = old.get_model("workspace", "Organisation")
    Membership = old.get_model("workspace", "Membership")
    AISystem = old.get_model("workspace", "AISystem")
    TrackedItem = old.get_model("workspace", "TrackedItem")
    Evidence = old.get_model("workspace", "Evidence")
    acme = Organisation.objects.create(name="Acme AI", slug="acme-ai")
    Membership.objects.create(organisation=acme, user_id=officer.pk, role="owner")
    AISystem.objects.create(
        organisation=acme, name="CV screener", roles=["provider"],
        risk_class="high_risk_annex_iii", annex_iii_point="4a",
    )  # fmt: skip
    worked = TrackedItem.objects.create(
        organisation=acme, milestone_id=milestones[ANNEX_III], status="in_progress",
        owner_id=officer.pk, target_date=dt.date(2027, 9, 30), notes="Gap analysis started",
        evidence_links=["https://example.org/gap-analysis"], reasons=[],
    )  # fmt: skip
    piece = Evidence.objects.create(
        organisation=acme, title="Gap analysis", link="https://example.org/gap"
    )
    piece.covers.add(worked)
    TrackedItem.objects.create(
        organisation=acme, milestone_id=milestones[LITERACY], status="to_confirm", reasons=[]
    )

    try:
        new = _migrate(_latest())
        obligations_load()
        out = io.StringIO()
        call_command("workspace_sync", stdout=out, stderr=io.StringIO())

        Item = new.get_model("workspace", "TrackedItem")
        duties = Item.objects.filter(
            organisation__slug="acme-ai", milestone_id=milestones[ANNEX_III],
            obligation__isnull=False,
        )  # fmt: skip
        assert duties.count() == 21
        assert set(duties.values_list("system_name", "status", "owner_id", "target_date",
                                      "notes", "applies")) == {
            ("CV screener", "in_progress", officer.pk, dt.date(2027, 9, 30),
             "Gap analysis started", True),
        }  # fmt: skip
        # The link written on the item became a piece (0011), handed over like the others
        Piece = new.get_model("workspace", "Evidence")
        from_link = Piece.objects.get(link="https://example.org/gap-analysis").covers
        assert set(from_link.values_list("pk", flat=True)) == {worked.pk, *(d.pk for d in duties)}
        covered = new.get_model("workspace", "Evidence").objects.get(pk=piece.pk).covers
        assert set(covered.values_list("pk", flat=True)) == {worked.pk, *(d.pk for d in duties)}
        before = Item.objects.get(pk=worked.pk)
        assert (before.applies, before.status, before.notes) == (
            False, "in_progress", "Gap analysis started",
        )  # fmt: skip
        assert before.stopped_reason == "Now tracked duty by duty (21 duties for “CV screener”)."
        literacy = Item.objects.get(
            organisation__slug="acme-ai", obligation__key="ai-act-ai-literacy-measures"
        )
        assert (literacy.status, literacy.owner_id, literacy.notes) == ("to_confirm", None, "")
        assert "1 organisation(s) in line" in out.getvalue()

        # Running it again changes nothing: no row, no history line
        snapshot = _snapshot(new)
        call_command("workspace_sync", stdout=io.StringIO(), stderr=io.StringIO())
        assert _snapshot(new) == snapshot
    finally:
        _migrate(_latest())
