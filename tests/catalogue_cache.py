"""Real packs loaded once per test process, then copied into each test's database.

Loading the AI Act packs through the loader takes seconds (a save, a full_clean and history
rows per entry, the roles' and scopes' history), and hundreds of tests start from them: it
was most of the suite's time. So `packs_load(paths)` loads for real, through
`catalogue_load_file` as `make run` does, the first time a process meets a given starting
state, and records what the load did to the catalogue's tables (every model of the catalogue
app: history and the many-to-many tables included). When a later test starts from the same
state, the recorded change is written directly (rows removed, changed and added, with the
ORM's bulk_create, so each field is stored as the ORM stores it) and each table's id sequence
is moved past the new rows: the test sees the very rows a load would have written.

It falls back to a real load, every time, when a copy could differ from a load:
- the catalogue is not in a state recorded before (the key is a hash of every row);
- the recorded load changed a table outside the catalogue app;
- time is travelled (time-machine): the recorded rows carry the times of their first load.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from dataclasses import dataclass
from pathlib import Path

from django.apps import apps
from django.core.management.color import no_style
from django.db import connection, transaction

from tracker.catalogue.pack_load import catalogue_load_file

# The real clock when this module was imported, to tell a travelled clock from a real one
# (time-machine moves the wall clock, never the monotonic one).
_WALL_AT_IMPORT = dt.datetime.now(dt.UTC)
_MONOTONIC_AT_IMPORT = time.monotonic()
TRAVEL_TOLERANCE = dt.timedelta(seconds=5)


@dataclass(frozen=True)
class Change:
    """What one load did to one table: rows removed or replaced (by pk), rows written."""

    model: type
    removed: tuple
    written: tuple[dict, ...]


_recorded: dict[tuple, tuple[Change, ...] | None] = {}  # None: that load cannot be copied


def _models() -> list[type]:
    return list(apps.get_app_config("catalogue").get_models(include_auto_created=True))


def _rows(model) -> dict:
    fields = [field.attname for field in model._meta.concrete_fields]
    return {row[model._meta.pk.attname]: row for row in model.objects.values(*fields)}


def _state() -> dict[type, dict]:
    return {model: _rows(model) for model in _models()}


def _fingerprint(state: dict[type, dict]) -> str:
    digest = hashlib.sha256()
    for model, rows in state.items():
        digest.update(model._meta.db_table.encode())
        for pk in sorted(rows):
            digest.update(repr(sorted(rows[pk].items())).encode())
    return digest.hexdigest()


def _other_counts() -> dict[str, int]:
    """Row counts of every table outside the catalogue app."""
    ours = {model._meta.db_table for model in _models()}
    with connection.cursor() as cursor:
        counts = {}
        for table in connection.introspection.table_names(cursor):
            if table not in ours:
                table_sql = connection.ops.quote_name(table)
                cursor.execute(f"SELECT COUNT(*) FROM {table_sql}")  # noqa: S608 (a table name)
                counts[table] = cursor.fetchone()[0]
    return counts


def _time_travelled() -> bool:
    real = _WALL_AT_IMPORT + dt.timedelta(seconds=time.monotonic() - _MONOTONIC_AT_IMPORT)
    return abs(dt.datetime.now(dt.UTC) - real) > TRAVEL_TOLERANCE


def _diff(before: dict[type, dict], after: dict[type, dict]) -> tuple[Change, ...]:
    changes = []
    for model, rows in after.items():
        old = before[model]
        removed = [pk for pk, row in old.items() if rows.get(pk) != row]
        written = [row for pk, row in rows.items() if old.get(pk) != row]
        if removed or written:
            changes.append(Change(model, tuple(removed), tuple(written)))
    return tuple(changes)


def _replay(changes: tuple[Change, ...]) -> None:
    """Write the recorded change in one transaction (foreign keys are checked at its end)."""
    with transaction.atomic():
        for change in changes:
            if change.removed:
                # No cascade: the rows pointing at them are themselves in the change.
                change.model.objects.filter(pk__in=change.removed)._raw_delete(connection.alias)
            change.model.objects.bulk_create(change.model(**row) for row in change.written)
        models = [change.model for change in changes]
        with connection.cursor() as cursor:
            for sql in connection.ops.sequence_reset_sql(no_style(), models):
                cursor.execute(sql)


def packs_load(paths: list[Path]) -> None:
    """Load these pack files in order, as `catalogue_load_file` would, copying a recorded
    load when the catalogue starts from a state seen before (see the module)."""
    if _time_travelled():
        for path in paths:
            catalogue_load_file(path=path)
        return
    before = _state()
    files = tuple((str(path), path.stat().st_mtime_ns) for path in paths)
    key = (files, _fingerprint(before))
    if (changes := _recorded.get(key)) is not None:
        _replay(changes)
        return
    others = _other_counts() if key not in _recorded else None
    for path in paths:
        catalogue_load_file(path=path)
    if others is not None:
        copyable = _other_counts() == others and not _time_travelled()
        _recorded[key] = _diff(before, _state()) if copyable else None
