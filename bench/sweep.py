"""Cost of a reminder sweep with nothing due, at 1,000 and at 100,000 subscriptions.

Target (docs/targets.md): a sweep when nothing is due costs the same with 100,000
subscriptions as with 1,000 - its cost follows what is due, not what exists. The sweep reads
due rows through the partial index `reminder_due_idx` (pending reminders, by due_at).

In a scratch PostgreSQL database (created, migrated and dropped by this script), the table
grows to each size in turn: S active subscriptions, each with 4 pending reminders due in the
future (90, 30, 7 and 1 day before a deadline 400 days ahead) and one sent message, inserted
with INSERT ... SELECT generate_series. After ANALYZE, `reminders_sweep(now=...)` runs
`--runs` times (after a few warm-up runs) and the median is kept. The same is done for the
sweep task's database work (`reminders_sweep` then `messages_ready`). Last, the EXPLAIN
ANALYZE of the due-reminders query, as the sweep sends it, at the largest size.

Usage, from the repository root:

    .venv/bin/python bench/sweep.py                        # 1,000 and 100,000
    .venv/bin/python bench/sweep.py --sizes 1000,10000,100000 --runs 200
    .venv/bin/python bench/sweep.py --smoke                # 100 and 1,000, 10 runs (CI)
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import time

from support import django_setup, milestone_create, scratch_database, stop_on_sigterm

LEAD_DAYS = [90, 30, 7, 1]
WARM_UP_RUNS = 5
FULL = {"sizes": [1000, 100_000], "runs": 100}
SMOKE = {"sizes": [100, 1000], "runs": 10}
FLAT_ENOUGH = 1.5  # a scan of the table would be ~100 times slower at 100x the rows


# Data --------------------------------------------------------------------------------------

INSERT_SUBSCRIPTIONS = """
    INSERT INTO reminders_subscription
        (email, status, language, timezone, send_hour, lead_days, categories, move_notices,
         problem, created_at, confirmed_at, regulation_id, targets, manage_url)
    SELECT 'subscriber' || n || '@example.org', 'active', 'en', 'Europe/Brussels', 9,
           %(lead_days)s::jsonb, '[]'::jsonb, true, '', now(), now(), %(regulation)s,
           '{}'::jsonb, ''
    FROM generate_series(%(first)s, %(last)s) AS n
"""

# 4 pending reminders per new subscription, due at 09:00 Brussels time, all in the future.
INSERT_REMINDERS = """
    INSERT INTO reminders_reminder
        (subscription_id, milestone_id, occurrence, lead_days, due_at, status, message_id)
    SELECT s.id, %(milestone)s, %(occurrence)s, lead.days,
           ((%(occurrence)s::date - lead.days) + time '09:00') AT TIME ZONE 'Europe/Brussels',
           'pending', NULL
    FROM reminders_subscription AS s CROSS JOIN unnest(%(leads)s::int[]) AS lead(days)
    WHERE s.id > %(after)s
"""

# One sent message per new subscription: the outbox is not empty in real life.
INSERT_MESSAGES = """
    INSERT INTO reminders_message
        (kind, stream, topic, to_email, subject, body_text, body_html, headers, status,
         attempts, recoveries, last_error, next_attempt_at, created_at, sent_at)
    SELECT 'reminders', 'subscription:' || s.id, '', s.email, 'Coming up',
           'A deadline is coming up.', '', '{}'::jsonb, 'sent', 1, 0, '', now(), now(), now()
    FROM reminders_subscription AS s
    WHERE s.id > %(after)s
"""


def grow_to(size: int, milestone) -> float:
    """Add subscriptions (and their rows) until there are `size`; returns the seconds taken."""
    from django.db import connection, transaction

    from tracker.reminders.models import Subscription

    started = time.perf_counter()
    existing = Subscription.objects.count()
    after = Subscription.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    params = {
        "first": existing + 1,
        "last": size,
        "after": after,
        "regulation": milestone.regulation_id,
        "milestone": milestone.pk,
        "occurrence": milestone.date,
        "leads": LEAD_DAYS,
        "lead_days": str(LEAD_DAYS),
    }
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(INSERT_SUBSCRIPTIONS, params)
        cursor.execute(INSERT_REMINDERS, params)
        cursor.execute(INSERT_MESSAGES, params)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return time.perf_counter() - started


# Measures ----------------------------------------------------------------------------------


def median_ms(function, runs: int) -> float:
    for _ in range(WARM_UP_RUNS):
        function()
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        function()
        timings.append(time.perf_counter() - started)
    return 1000 * statistics.median(timings)


def sweep_once(now: dt.datetime) -> None:
    from tracker.reminders.services import reminders_sweep

    report = reminders_sweep(now=now)
    if report.message_ids or report.skipped:
        raise RuntimeError("something was due: the benchmark's data is wrong")


def sweep_task_once(now: dt.datetime) -> None:
    """The database work of the periodic task, without the broker."""
    from tracker.outbox.services import messages_ready

    sweep_once(now)
    messages_ready(now=now)


def explain_due_query(now: dt.datetime) -> str:
    """EXPLAIN ANALYZE of the due-reminders query, captured as the sweep sends it."""
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        sweep_once(now)
    [due_query] = [q["sql"] for q in queries.captured_queries if "FOR UPDATE" in q["sql"]]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {due_query}")
        return "\n".join(row[0] for row in cursor.fetchall())


# Report ------------------------------------------------------------------------------------


def report(rows: list[tuple[int, float, float, float]], plan: str, runs: int) -> str:
    lines = [
        f"Sweep with nothing due, PostgreSQL, median of {runs} runs, {os.cpu_count()} cores "
        f"(load average {os.getloadavg()[0]:.1f})",
        "",
        f"  {'subscriptions':>13} {'reminders':>10} {'built in':>9} {'sweep':>9} "
        f"{'sweep+ready':>12}",
    ]
    for size, built, sweep, task in rows:
        lines.append(
            f"  {size:>13,} {size * len(LEAD_DAYS):>10,} {built:>8.1f}s {sweep:>7.2f}ms "
            f"{task:>10.2f}ms"
        )
    (small, _, small_sweep, small_task), (large, _, large_sweep, large_task) = rows[0], rows[-1]
    ratio = large_sweep / small_sweep
    verdict = "met" if ratio <= FLAT_ENOUGH else "NOT MET"
    uses_index = "reminder_due_idx" in plan
    lines += [
        "",
        f"  ratio sweep {large:,} / {small:,}: {ratio:.2f}   target: flat (about 1)   {verdict}",
        f"  ratio sweep+ready {large:,} / {small:,}: {large_task / small_task:.2f}",
        f"  due-reminders query uses reminder_due_idx: {'yes' if uses_index else 'NO'}",
        "",
        f"  EXPLAIN (ANALYZE, BUFFERS) of the due-reminders query at {large:,} subscriptions:",
        *(f"    {line}" for line in plan.splitlines()),
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes",
        type=lambda text: sorted(int(size) for size in text.split(",")),
        help="subscription counts, comma-separated (default 1000,100000)",
    )
    parser.add_argument("--runs", type=int, help="timed sweeps per size (default 100)")
    parser.add_argument("--smoke", action="store_true", help="sizes 100,1000, 10 runs (for CI)")
    args = parser.parse_args()
    defaults = SMOKE if args.smoke else FULL
    args.sizes = args.sizes or defaults["sizes"]
    args.runs = args.runs or defaults["runs"]
    if len(args.sizes) < 2:
        parser.error("--sizes needs at least two sizes to compare")
    stop_on_sigterm()

    with scratch_database("sweep") as database_url:
        django_setup(database_url)
        from django.utils import timezone

        milestone = milestone_create(date=timezone.localdate() + dt.timedelta(days=400))
        rows = []
        for size in args.sizes:
            built = grow_to(size, milestone)
            now = timezone.now()
            sweep = median_ms(lambda now=now: sweep_once(now), args.runs)
            task = median_ms(lambda now=now: sweep_task_once(now), args.runs)
            rows.append((size, built, sweep, task))
        plan = explain_due_query(timezone.now())
    print(report(rows, plan, args.runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
