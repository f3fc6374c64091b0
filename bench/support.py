"""Shared by the reminder-engine benchmarks: a throwaway PostgreSQL database, Django on it.

Each benchmark creates its own database (`jalon_bench_<name>_<pid>`), migrates it, and drops
it on the way out, even when the run fails or is interrupted (Ctrl-C or SIGTERM).
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
# The PostgreSQL server to create the scratch databases on (no database name).
PG_SERVER = os.environ.get("BENCH_PG_SERVER", "postgres://postgres@127.0.0.1:5432")


def stop_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit so that `finally` blocks clean up."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))


def _admin_execute(sql: str) -> None:
    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as connection:
        connection.execute(sql)


@contextmanager
def scratch_database(name: str, *, template: str | None = None) -> Iterator[str]:
    """Create `jalon_bench_<name>_<pid>`, yield its URL, drop it afterwards.

    `template`: the URL of another scratch database to copy (migrated already, and with no
    session open on it), so that several databases need one migration.
    """
    database = f"jalon_bench_{name}_{os.getpid()}"
    copy = f' TEMPLATE "{template.rsplit("/", 1)[1]}"' if template else ""
    _admin_execute(f'CREATE DATABASE "{database}"{copy}')
    try:
        yield f"{PG_SERVER}/{database}"
    finally:
        _close_django_connections()
        # FORCE also ends the sessions of a worker that did not shut down cleanly.
        _admin_execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def _close_django_connections() -> None:
    if "django.db" in sys.modules:
        from django.db import connections

        connections.close_all()


def redis_flush(url: str) -> None:
    """Empty a Redis database (one a benchmark uses alone: tasks no worker will run)."""
    import redis

    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
    finally:
        client.close()


def django_setup(database_url: str, **environ: str) -> None:
    """Point the settings at `database_url` (plus any variables given), set up, migrate.

    The settings read the environment once, so everything is set before django.setup().
    """
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    os.environ["DATABASE_URL"] = database_url
    os.environ.update(environ)
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    os.chdir(ROOT)

    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)


def milestone_create(*, date, suffix: str = ""):
    """One regulation and one fixed, in-force milestone on `date` (what reminders point at).

    `suffix` ends both keys, so that a benchmark can make several pairs side by side.
    """
    import datetime as dt

    from tracker.catalogue.models import Milestone, Regulation

    regulation = Regulation.objects.create(
        key=f"eu-ai-act{suffix}",
        short_name="EU AI Act",
        title="AI Act",
        source_url="https://example.org",
    )
    return Milestone.objects.create(
        regulation=regulation,
        key=f"bench-deadline{suffix}",
        title="High-risk obligations apply",
        date=date,
        category="application",
        status="in_force",
        confidence="high",
        legal_basis="Art. 113",
        source_url="https://example.org",
        verified_on=dt.date(2026, 1, 1),
    )


def copy_rows_sql(model, *, overrides: dict[str, str], source: str) -> str:
    """INSERT INTO the model's table every column of `p` (a prototype row), some replaced.

    A benchmark that builds rows in bulk copies a prototype made through the ORM, so a
    column that a later migration adds gets the model's value and the script does not rot
    (a hand-written column list broke when `move_notices` and `weekly_digest` came).

    `source` is the FROM clause naming the prototype `p` (and whatever the overrides use).
    Only column names from the model and the caller's fixed SQL are interpolated.
    """
    from django.db import connection

    quote = connection.ops.quote_name
    columns = [f.column for f in model._meta.concrete_fields if not f.primary_key]
    values = [overrides.get(column, f"p.{quote(column)}") for column in columns]
    return (
        f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(map(quote, columns))}) "  # noqa: S608
        f"SELECT {', '.join(values)} FROM {source}"
    )
