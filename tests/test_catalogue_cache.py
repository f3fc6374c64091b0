"""The test-suite's copy of a pack load (tests/catalogue_cache.py) gives what a load gives."""

import pytest
from django.db import transaction

from tests import catalogue_cache
from tests.conftest import ROOT
from tests.duty_support import OBLIGATIONS_PACK
from tests.factories import MilestoneFactory
from tracker.catalogue.models import Milestone
from tracker.catalogue.pack_load import catalogue_load_file

PACKS = [*sorted((ROOT / "fixtures").glob("*.yaml")), OBLIGATIONS_PACK]


def _summary() -> dict[str, tuple]:
    """Per catalogue table: its row count and, where rows have a key, the keys."""
    found = {}
    for model, rows in catalogue_cache._state().items():
        keys = sorted(str(row.get("key")) for row in rows.values())
        found[model._meta.db_table] = (len(rows), keys)
    return found


@pytest.mark.django_db
def test_a_copied_load_has_the_rows_a_real_load_writes():
    with transaction.atomic():
        for path in PACKS:
            catalogue_load_file(path=path)
        loaded = _summary()
        transaction.set_rollback(True)
    catalogue_cache.packs_load(PACKS)  # recorded (a real load) unless this process has one
    catalogue_cache.packs_load(PACKS)  # loading again: a copy of "nothing changes"
    first = _summary()
    with transaction.atomic():
        catalogue_cache.packs_load(PACKS)  # from the same state: copied, the same rows
        assert _summary() == first
        transaction.set_rollback(True)

    assert first == loaded
    assert loaded["catalogue_milestone"][0] > 100


@pytest.mark.django_db
def test_the_packs_are_copyable_and_new_rows_get_fresh_ids(ai_act_catalogue):
    paths = sorted((ROOT / "fixtures").glob("*.yaml"))
    files = tuple((str(path), path.stat().st_mtime_ns) for path in paths)
    recorded = [changes for (key, changes) in catalogue_cache._recorded.items() if key[0] == files]
    assert recorded and all(changes is not None for changes in recorded)  # no real load each time

    newest = Milestone.objects.order_by("-pk").first()
    assert MilestoneFactory().pk > newest.pk  # the id sequence moved past the copied rows
