"""Existing organisations move to facts per system with their data intact, and are told what
to review (workspace migration 0002_facts_per_system)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)
BEFORE = [("workspace", "0001_initial")]
AFTER = [("workspace", "0002_facts_per_system")]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def test_roles_and_facts_move_onto_each_system_and_review_points_are_listed():
    old = _migrate(BEFORE)
    Organisation = old.get_model("workspace", "Organisation")
    AISystem = old.get_model("workspace", "AISystem")
    acme = Organisation.objects.create(name="Acme", slug="acme", roles=["provider", "deployer"])
    AISystem.objects.create(
        organisation=acme, name="CV screener", risk_class="high_risk_annex_iii",
        annex_iii_area="employment", placed_on_market=dt.date(2026, 10, 1),
        used_by_public_authority=True,
    )  # fmt: skip
    AISystem.objects.create(
        organisation=acme, name="Grid", risk_class="high_risk_annex_iii",
        annex_iii_area="critical_infrastructure",
    )  # fmt: skip
    AISystem.objects.create(organisation=acme, name="Writer", risk_class="transparency",
                            generative=True)  # fmt: skip
    quiet = Organisation.objects.create(name="Quiet", slug="quiet", roles=[])
    AISystem.objects.create(organisation=quiet, name="Helper", risk_class="minimal")

    try:
        new = _migrate(AFTER)
        Organisation = new.get_model("workspace", "Organisation")
        systems = {
            s.name: s for s in new.get_model("workspace", "AISystem").objects.order_by("name")
        }

        cv, grid, writer, helper = (systems[n] for n in ("CV screener", "Grid", "Writer", "Helper"))
        assert (cv.roles, cv.risk_class, cv.annex_iii_point) == (
            ["deployer", "provider"], "high_risk_annex_iii", "",
        )  # fmt: skip
        assert (cv.placed_on_market, cv.intended_for_public_authorities) == (
            dt.date(2026, 10, 1), True,
        )  # fmt: skip
        assert grid.annex_iii_point == "2a"
        assert (writer.risk_class, writer.art50) == ("other", ["synthetic_content"])
        assert (helper.roles, helper.risk_class) == (["deployer"], "other")
        acme = Organisation.objects.get(slug="acme")
        notes = " ".join(acme.review_notes)
        assert "each system was given the company's roles (deployer, provider)" in notes
        assert "“CV screener”: choose its point in Annex III area 4 (employment)" in notes
        assert "“Writer”: the risk class “transparency duties” is gone" in notes
        assert "“CV screener”: “used by a public authority” now reads" in notes
        assert "Grid" not in notes  # its area has one point
        assert acme.established_in_eu is True
        quiet_notes = Organisation.objects.get(slug="quiet").review_notes
        assert any("“Helper”: no role was recorded" in note for note in quiet_notes)
    finally:
        _migrate(_latest())


def _latest():
    executor = MigrationExecutor(connection)
    return executor.loader.graph.leaf_nodes()
