"""An editor's amendment: the request costs the same with 20,000 followers as with 10.

Target (docs/targets.md): an editor's amendment returns as fast with 20,000 followers as
with 10; the fan-out runs in workers. The request writes the amendment, the milestone and one
`MilestoneChange` row, and after commit puts one task per consumer on the broker; it does not
touch a follower.

In a scratch PostgreSQL database (created, migrated and dropped by this script), two
regulations side by side, each with one fixed milestone 400 days ahead:
- small: 10 active subscriptions following its regulation, 1 organisation;
- large: 20,000 active subscriptions, 1,000 organisations.
Each subscription has 4 lead days (90, 30, 7, 1) and its 4 pending reminders; each
organisation has an owner (a user with an email) and one open tracked item on the milestone.
All inserted with INSERT ... SELECT generate_series, then ANALYZE; the tracked items through
the ORM's bulk_create, so that the model's defaults fill the columns the workspace keeps adding.

A superuser POSTs the admin's "Record an amendment" form (`admin:catalogue_milestone_amend`)
through Django's test Client, `--runs` times per size, alternating the sizes so that the
machine's load hits both; each run moves the date to a new day. The broker is a Redis database
(`--redis-url`, flushed before and after) that no worker reads: the request only enqueues. It
prints the median time per size, the ratio large / small, and the SQL statements of each
request, which must be the same at both sizes (the script fails otherwise).

Then (`--fanout`, on by default, off with `--smoke`) the two consumer tasks run once, in this
process, on the last amendment of the large milestone: what a worker does after the request,
timed and counted, for information.

Usage, from the repository root:

    .venv/bin/python bench/amend.py                    # 10 vs 20,000 followers
    .venv/bin/python bench/amend.py --runs 50 --no-fanout
    .venv/bin/python bench/amend.py --smoke            # 10 vs 500, a few seconds (CI)
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import time
from dataclasses import dataclass, field

from support import django_setup, milestone_create, redis_flush, scratch_database, stop_on_sigterm

LEAD_DAYS = [90, 30, 7, 1]
WARM_UP_RUNS = 2  # per size: the first requests open the Redis connection, load templates
FLAT_ENOUGH = 1.5
FULL = {"followers": [10, 20_000], "organisations": [1, 1_000], "runs": 30}
SMOKE = {"followers": [10, 500], "organisations": [1, 20], "runs": 3}


# Data --------------------------------------------------------------------------------------

INSERT_SUBSCRIPTIONS = """
    INSERT INTO reminders_subscription
        (email, status, language, timezone, send_hour, lead_days, categories, move_notices,
         weekly_digest, problem, created_at, confirmed_at, regulation_id, targets, manage_url)
    SELECT %(prefix)s || '-follower' || n || '@example.org', 'active', 'en', 'Europe/Brussels',
           9, %(lead_days)s::jsonb, '[]'::jsonb, true, false, '', now(), now(), %(regulation)s,
           '{}'::jsonb, ''
    FROM generate_series(1, %(followers)s) AS n
"""

# The 4 reminders each follower has pending for the milestone, due at 09:00 Brussels time.
INSERT_REMINDERS = """
    INSERT INTO reminders_reminder
        (subscription_id, milestone_id, occurrence, lead_days, due_at, status, message_id)
    SELECT s.id, %(milestone)s, %(occurrence)s, lead.days,
           ((%(occurrence)s::date - lead.days) + time '09:00') AT TIME ZONE 'Europe/Brussels',
           'pending', NULL
    FROM reminders_subscription AS s CROSS JOIN unnest(%(leads)s::int[]) AS lead(days)
    WHERE s.regulation_id = %(regulation)s
"""

INSERT_OWNERS = """
    INSERT INTO auth_user
        (password, is_superuser, username, first_name, last_name, email, is_staff, is_active,
         date_joined)
    SELECT '!', false, %(prefix)s || '-owner' || n, '', '', %(prefix)s || '-owner' || n
           || '@example.org', false, true, now()
    FROM generate_series(1, %(organisations)s) AS n
"""

INSERT_ORGANISATIONS = """
    INSERT INTO workspace_organisation
        (name, slug, established_in_eu, public_body, provides_public_services, review_notes,
         catalogue_version, created_at)
    SELECT 'Company ' || n, %(prefix)s || '-company-' || n, true, false, false, '[]'::jsonb, 0,
           now()
    FROM generate_series(1, %(organisations)s) AS n
"""

INSERT_MEMBERSHIPS = """
    INSERT INTO workspace_membership (organisation_id, user_id, role, joined_at)
    SELECT o.id, u.id, 'owner', now()
    FROM generate_series(1, %(organisations)s) AS n
    JOIN workspace_organisation AS o ON o.slug = %(prefix)s || '-company-' || n
    JOIN auth_user AS u ON u.username = %(prefix)s || '-owner' || n
"""

# Owners' addresses verified: moved-date notices go only to a verified address.
INSERT_VERIFICATIONS = """
    INSERT INTO accounts_emailverification (user_id, email, verified_at, language)
    SELECT u.id, u.email, now(), 'en'
    FROM auth_user AS u WHERE u.username LIKE %(prefix)s || '-owner%%'
"""


# One open item per organisation on the milestone, owned by the organisation's owner.
@dataclass
class Size:
    """One milestone and who follows it, with the timings of its amendments."""

    name: str
    followers: int
    organisations: int
    milestone: object = None
    built: float = 0.0
    timings: list[float] = field(default_factory=list)
    queries: list[int] = field(default_factory=list)
    moves: int = 0

    @property
    def median_ms(self) -> float:
        return 1000 * statistics.median(self.timings)


def size_create(size: Size, date: dt.date) -> None:
    """The milestone, its followers with their reminders, its organisations with their item."""
    from django.db import connection, transaction

    started = time.perf_counter()
    size.milestone = milestone_create(date=date, suffix=f"-{size.name}")
    params = {
        "prefix": size.name,
        "followers": size.followers,
        "organisations": size.organisations,
        "regulation": size.milestone.regulation_id,
        "milestone": size.milestone.pk,
        "occurrence": date,
        "leads": LEAD_DAYS,
        "lead_days": str(LEAD_DAYS),
    }
    with transaction.atomic(), connection.cursor() as cursor:
        for statement in (
            INSERT_SUBSCRIPTIONS,
            INSERT_REMINDERS,
            INSERT_OWNERS,
            INSERT_ORGANISATIONS,
            INSERT_MEMBERSHIPS,
            INSERT_VERIFICATIONS,
        ):
            cursor.execute(statement, params)
        items_create(size)
    size.built = time.perf_counter() - started


def items_create(size: Size) -> None:
    """One open item on the milestone per organisation of the size, owned by its owner."""
    from tracker.workspace.models import Membership, TrackedItem

    owners = Membership.objects.filter(organisation__slug__startswith=f"{size.name}-company-")
    TrackedItem.objects.bulk_create(
        (
            TrackedItem(organisation_id=organisation_id, milestone=size.milestone, owner_id=user_id)
            for organisation_id, user_id in owners.values_list("organisation_id", "user_id")
        ),
        batch_size=1000,
    )


# The editor's request ----------------------------------------------------------------------


def editor_client():
    """A test Client logged in as a superuser (the admin checks permissions on each request)."""
    from django.contrib.auth import get_user_model
    from django.test import Client

    editor = get_user_model().objects.create_superuser("editor", "editor@example.org", "x")
    client = Client()
    client.force_login(editor)
    return client


def amend(client, size: Size) -> tuple[float, int]:
    """POST "Record an amendment", moving the date one day further; seconds and statements."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    size.moves += 1
    new_date = size.milestone.date + dt.timedelta(days=size.moves)
    url = reverse("admin:catalogue_milestone_amend", args=[size.milestone.pk])
    data = {
        "new_date": new_date.isoformat(),
        "amending_act": f"Regulation (EU) 2026/{1000 + size.moves}",
        "source_url": "https://eur-lex.europa.eu/eli/reg/2026/1",
        "effective_on": "",
        "confidence": "high",
        "note": "Benchmark",
    }
    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        response = client.post(url, data)
        seconds = time.perf_counter() - started
    if response.status_code != 302:
        raise RuntimeError(
            f"the amendment was refused ({response.status_code}):\n"
            f"{response.content.decode()[:3000]}"
        )
    return seconds, len(queries)


def requests_only_enqueued(redis_url: str, requests: int) -> str:
    """Check that no follower was touched and that each request put a task per consumer on
    the broker; returns a line saying so."""
    import redis
    from django.conf import settings

    from tracker.catalogue.models import ChangeReceipt
    from tracker.outbox.models import Message

    consumers = len(settings.CATALOGUE_CHANGE_CONSUMERS)
    with redis.Redis.from_url(redis_url) as client:
        queued = client.llen("celery")
    written = Message.objects.count()
    receipts = ChangeReceipt.objects.count()
    if written or receipts or queued != consumers * requests:
        raise RuntimeError(
            f"the requests did more than enqueue: {written} messages, {receipts} receipts, "
            f"{queued} tasks on the broker for {requests} requests"
        )
    return (
        f"the requests only enqueued: 0 messages, 0 receipts, {queued} tasks on the broker "
        f"({consumers} per request)"
    )


# The fan-out, in this process --------------------------------------------------------------


def fanout(size: Size) -> list[str]:
    """Run both consumer tasks on the size's last change, as a worker would; report."""
    from tracker.catalogue.models import ChangeReceipt, MilestoneChange
    from tracker.outbox.models import Message
    from tracker.reminders.models import Reminder
    from tracker.reminders.tasks import milestone_change_consume_task as reminders_task
    from tracker.workspace.tasks import milestone_change_consume_task as workspace_task

    change = MilestoneChange.objects.filter(milestone=size.milestone).latest("pk")
    lines = [
        f"Fan-out in the worker, {size.followers:,} followers and {size.organisations:,} "
        f"organisations (both consumer tasks run here once; information):"
    ]
    for consumer, task in (("reminders", reminders_task), ("workspace", workspace_task)):
        started = time.perf_counter()
        task(change.pk)
        seconds = time.perf_counter() - started
        receipt = ChangeReceipt.objects.get(change=change, consumer=consumer)
        if receipt.status != ChangeReceipt.Status.DONE or receipt.errors:
            raise RuntimeError(f"{consumer} consumer: {receipt.status} {receipt.errors[:3]}")
        outcome = ", ".join(f"{value:,} {name}" for name, value in receipt.outcome.items())
        lines.append(f"  {consumer:<9} {seconds:7.2f} s   {outcome}")
    milestone = size.milestone
    milestone.refresh_from_db()
    notices = {
        kind: Message.objects.filter(kind=kind).count() for kind in ("date_moved", "item_moved")
    }
    reminders = Reminder.objects.filter(milestone=milestone, occurrence=milestone.date).count()
    lines.append(
        f"  in the database: {notices['date_moved']:,} date_moved and "
        f"{notices['item_moved']:,} item_moved notices, {reminders:,} reminders "
        f"at the new date"
    )
    return lines


# Report ------------------------------------------------------------------------------------


def report(sizes: list[Size], runs: int, enqueued: str) -> tuple[str, bool]:
    small, large = sizes
    lines = [
        f"An editor's amendment (admin POST), PostgreSQL and Redis, median of {runs} runs, "
        f"{os.cpu_count()} cores (load average {os.getloadavg()[0]:.1f})",
        "",
        f"  {'followers':>9} {'organisations':>13} {'built in':>9} {'median':>10} "
        f"{'min':>9} {'max':>9} {'SQL':>5}",
    ]
    for size in sizes:
        counts = "/".join(str(n) for n in sorted(set(size.queries)))
        lines.append(
            f"  {size.followers:>9,} {size.organisations:>13,} {size.built:>8.1f}s "
            f"{size.median_ms:>7.1f} ms {1000 * min(size.timings):>6.1f} ms "
            f"{1000 * max(size.timings):>6.1f} ms {counts:>5}"
        )
    ratio = large.median_ms / small.median_ms
    verdict = "met" if ratio < FLAT_ENOUGH else "NOT MET"
    same_queries = set(small.queries) == set(large.queries) and len(set(small.queries)) == 1
    lines += [
        "",
        f"  ratio {large.followers:,} / {small.followers:,} followers: {ratio:.2f}   "
        f"target: flat (about 1, < {FLAT_ENOUGH})   {verdict}",
        f"  SQL statements per request: {small.queries[0]} and {large.queries[0]}   "
        + ("equal" if same_queries else "DIFFERENT"),
        f"  {enqueued}",
    ]
    return "\n".join(lines), same_queries


def numbers(text: str) -> list[int]:
    return [int(n) for n in text.split(",")]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--followers", type=numbers, help="small,large (default 10,20000)")
    parser.add_argument("--organisations", type=numbers, help="small,large (default 1,1000)")
    parser.add_argument("--runs", type=int, help="timed requests per size (default 30)")
    parser.add_argument(
        "--fanout",
        action=argparse.BooleanOptionalAction,
        help="then run the consumers once at the large size (default: on, off with --smoke)",
    )
    parser.add_argument("--smoke", action="store_true", help="small sizes, 3 runs (for CI)")
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14"),
        help="a Redis database for this benchmark alone: it is flushed before and after",
    )
    args = parser.parse_args()
    defaults = SMOKE if args.smoke else FULL
    followers = args.followers or defaults["followers"]
    organisations = args.organisations or defaults["organisations"]
    runs = args.runs or defaults["runs"]
    run_fanout = not args.smoke if args.fanout is None else args.fanout
    if len(followers) != 2 or len(organisations) != 2:
        parser.error("--followers and --organisations take two sizes each: small,large")
    stop_on_sigterm()

    sizes = [
        Size("small", followers[0], organisations[0]),
        Size("large", followers[1], organisations[1]),
    ]
    with scratch_database("amend") as database_url:
        # "testserver" is the test Client's host name.
        django_setup(database_url, REDIS_URL=args.redis_url, ALLOWED_HOSTS="testserver")
        from django.db import connection
        from django.test.utils import override_settings
        from django.utils import timezone

        # collectstatic has not run: plain static URLs, should the admin render a page, and
        # WhiteNoise looks for no collected files.
        override_settings(
            STATIC_ROOT=None,
            STORAGES={
                "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
                "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
            },
        ).enable()
        redis_flush(args.redis_url)
        try:
            date = timezone.localdate() + dt.timedelta(days=400)
            for size in sizes:
                size_create(size, date)
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
            client = editor_client()
            for _ in range(WARM_UP_RUNS):
                for size in sizes:
                    amend(client, size)
            for run in range(runs):
                # alternate which size goes first, so neither always follows the other
                for size in sizes if run % 2 == 0 else sizes[::-1]:
                    seconds, queries = amend(client, size)
                    size.timings.append(seconds)
                    size.queries.append(queries)
            enqueued = requests_only_enqueued(args.redis_url, (WARM_UP_RUNS + runs) * 2)
            text, same_queries = report(sizes, runs, enqueued)
            print(text, flush=True)
            if run_fanout:
                print("\n" + "\n".join(fanout(sizes[1])))
        finally:
            redis_flush(args.redis_url)
    if not same_queries:
        print("FAILED: the request's SQL statements depend on the followers", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
