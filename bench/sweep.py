"""Cost of a reminder sweep with nothing due, at 1,000 and at 100,000 subscriptions.

Target (docs/targets.md): a sweep when nothing is due costs the same with 100,000
subscriptions as with 1,000 - its cost follows what is due, not what exists. The sweep reads
due rows through the partial index `reminder_due_idx` (pending reminders, by due_at).

One scratch PostgreSQL database per size (the first created and migrated by this script, the
others copied from it; all dropped at the end), each grown to its size: S active
subscriptions, each with 4 pending reminders due in the future (90, 30, 7 and 1 day before a
deadline 400 days ahead) and one sent message. The rows are copies of one prototype of each
made through the ORM (INSERT ... SELECT over generate_series), so a column that a later
migration adds gets the model's value and the script does not rot. Then ANALYZE.

The rounds are interleaved: each round visits every size in turn (the Django connection is
pointed at that size's database), runs a few warm-up sweeps, then times `--runs` sweeps
(`reminders_sweep(now=...)`) and as many of the sweep task's database work
(`reminders_sweep` then `messages_ready`), keeping each median. The ratio largest / smallest
is taken within each round and its median over the rounds is reported, so a change in the
machine's load between sizes does not go into it. Last, the EXPLAIN ANALYZE of the
due-reminders query, as the sweep sends it, at the largest size.

Usage, from the repository root:

    .venv/bin/python bench/sweep.py                        # 1,000 and 100,000, 5 rounds
    .venv/bin/python bench/sweep.py --sizes 1000,10000,100000 --runs 200 --rounds 7
    .venv/bin/python bench/sweep.py --smoke                # 100 and 1,000, 2 rounds (CI)
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import time
from contextlib import ExitStack

from support import (
    copy_rows_sql,
    django_setup,
    milestone_create,
    scratch_database,
    stop_on_sigterm,
)

LEAD_DAYS = [90, 30, 7, 1]
WARM_UP_RUNS = 5
FULL = {"sizes": [1000, 100_000], "runs": 40, "rounds": 5}
SMOKE = {"sizes": [100, 1000], "runs": 10, "rounds": 2}
FLAT_ENOUGH = 1.5  # a scan of the table would be ~100 times slower at 100x the rows


# Data --------------------------------------------------------------------------------------


def prototypes(milestone) -> dict[str, int]:
    """Subscriber 1, made through the ORM with its 4 reminders and a sent message: the rows
    every other subscriber's are copied from."""
    from django.utils import timezone

    from tracker.outbox.models import Message
    from tracker.reminders.models import Reminder, Subscription
    from tracker.reminders.services import due_at_for

    now = timezone.now()
    subscription = Subscription.objects.create(
        email="subscriber1@example.org", status=Subscription.Status.ACTIVE, language="en",
        timezone="Europe/Brussels", send_hour=9, lead_days=LEAD_DAYS,
        regulation=milestone.regulation, confirmed_at=now,
    )  # fmt: skip
    reminders = Reminder.objects.bulk_create(
        [
            Reminder(
                subscription=subscription,
                milestone=milestone,
                occurrence=milestone.date,
                lead_days=days,
                due_at=due_at_for(
                    subscription=subscription, day=milestone.date - dt.timedelta(days=days)
                ),
            )
            for days in LEAD_DAYS
        ]
    )
    message = Message.objects.create(
        kind="reminders", stream=f"subscription:{subscription.pk}", to_email=subscription.email,
        subject="Coming up", body_text="A deadline is coming up.", status=Message.Status.SENT,
        attempts=1, next_attempt_at=now, sent_at=now,
    )  # fmt: skip
    return {"subscription": subscription.pk, "reminder": reminders[0].pk, "message": message.pk}


def grow_to(size: int, milestone) -> float:
    """Add subscriptions (and their rows) until there are `size`; returns the seconds taken."""
    from django.db import connection, transaction

    from tracker.outbox.models import Message
    from tracker.reminders.models import Reminder, Subscription

    started = time.perf_counter()
    proto = prototypes(milestone)
    after = proto["subscription"]
    new_subscriptions = copy_rows_sql(
        Subscription,
        overrides={"email": "'subscriber' || n || '@example.org'", "created_at": "now()",
                   "confirmed_at": "now()"},
        source="reminders_subscription AS p CROSS JOIN generate_series(2, %(size)s) AS n "
        "WHERE p.id = %(subscription)s",
    )  # fmt: skip
    # 4 pending reminders per new subscription, due at 09:00 Brussels time, all in the future.
    new_reminders = copy_rows_sql(
        Reminder,
        overrides={
            "subscription_id": "s.id",
            "lead_days": "lead.days",
            "due_at": "((p.occurrence - lead.days) + time '09:00') AT TIME ZONE 'Europe/Brussels'",
        },
        source="reminders_reminder AS p CROSS JOIN reminders_subscription AS s "
        "CROSS JOIN unnest(%(leads)s::int[]) AS lead(days) "
        "WHERE p.id = %(reminder)s AND s.id > %(after)s",
    )
    # One sent message per new subscription: the outbox is not empty in real life.
    new_messages = copy_rows_sql(
        Message,
        overrides={"stream": "'subscription:' || s.id", "to_email": "s.email"},
        source="reminders_message AS p CROSS JOIN reminders_subscription AS s "
        "WHERE p.id = %(message)s AND s.id > %(after)s",
    )
    params = {**proto, "size": size, "after": after, "leads": LEAD_DAYS}
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(new_subscriptions, params)
        cursor.execute(new_reminders, params)
        cursor.execute(new_messages, params)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    if Reminder.objects.count() != size * len(LEAD_DAYS):
        raise RuntimeError("the reminders were not copied as expected")
    return time.perf_counter() - started


def use_database(url: str) -> None:
    """Point Django's connection at another scratch database (same server and user)."""
    from django.db import connection

    connection.close()
    connection.settings_dict["NAME"] = url.rsplit("/", 1)[1]


# Measures ----------------------------------------------------------------------------------


def median_ms(function, runs: int, warm_up: int = WARM_UP_RUNS) -> float:
    for _ in range(warm_up):
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


def report(
    sizes: list[int], built: dict[int, float], sweeps: dict[int, list[float]],
    tasks: dict[int, list[float]], plan: str, runs: int, load: float,
) -> str:  # fmt: skip
    rounds = len(sweeps[sizes[0]])
    lines = [
        f"Sweep with nothing due, PostgreSQL, {rounds} interleaved round(s) of {runs} runs per "
        f"size, {os.cpu_count()} cores (load average {load:.1f} at the start, "
        f"{os.getloadavg()[0]:.1f} at the end)",
        "",
        f"  {'subscriptions':>13} {'reminders':>10} {'built in':>9} {'sweep':>9} "
        f"{'sweep+ready':>12}   sweep, each round (ms)",
    ]
    for size in sizes:
        each = " ".join(f"{ms:.2f}" for ms in sweeps[size])
        lines.append(
            f"  {size:>13,} {size * len(LEAD_DAYS):>10,} {built[size]:>8.1f}s "
            f"{statistics.median(sweeps[size]):>7.2f}ms "
            f"{statistics.median(tasks[size]):>10.2f}ms   {each}"
        )
    small, large = sizes[0], sizes[-1]
    ratios = [big / little for big, little in zip(sweeps[large], sweeps[small], strict=True)]
    task_ratios = [big / little for big, little in zip(tasks[large], tasks[small], strict=True)]
    ratio = statistics.median(ratios)
    verdict = "met" if ratio <= FLAT_ENOUGH else "NOT MET"
    uses_index = "reminder_due_idx" in plan
    lines += [
        "",
        f"  ratio sweep+ready {large:,} / {small:,}: {statistics.median(task_ratios):.2f}   "
        f"(rounds: {' '.join(f'{r:.2f}' for r in task_ratios)})",
        f"  due-reminders query uses reminder_due_idx: {'yes' if uses_index else 'NO'}",
        "",
        f"  EXPLAIN (ANALYZE, BUFFERS) of the due-reminders query at {large:,} subscriptions:",
        *(f"    {line}" for line in plan.splitlines()),
        "",
        f"  target: flat (at most {FLAT_ENOUGH})   {verdict}   "
        f"(rounds: {' '.join(f'{r:.2f}' for r in ratios)})",
        f"ratio sweep {large:,} / {small:,}: {ratio:.2f}",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes",
        type=lambda text: sorted(int(size) for size in text.split(",")),
        help="subscription counts, comma-separated (default 1000,100000)",
    )
    parser.add_argument("--runs", type=int, help="timed sweeps per size and round (default 40)")
    parser.add_argument("--rounds", type=int, help="interleaved rounds (default 5)")
    parser.add_argument("--smoke", action="store_true", help="sizes 100,1000, 2 rounds (CI)")
    args = parser.parse_args()
    defaults = SMOKE if args.smoke else FULL
    args.sizes = args.sizes or defaults["sizes"]
    args.runs = args.runs or defaults["runs"]
    args.rounds = args.rounds or defaults["rounds"]
    if len(args.sizes) < 2 or len(set(args.sizes)) != len(args.sizes):
        parser.error("--sizes needs at least two different sizes to compare")
    stop_on_sigterm()
    load = os.getloadavg()[0]

    with ExitStack() as stack:
        base = stack.enter_context(scratch_database("sweep"))
        django_setup(base)  # migrates it
        from django.db import connection
        from django.utils import timezone

        connection.close()  # a template database must have no session
        urls = {
            size: stack.enter_context(scratch_database(f"sweep_{size}", template=base))
            for size in args.sizes
        }
        built, milestones = {}, {}
        for size, url in urls.items():
            use_database(url)
            milestones[size] = milestone_create(date=timezone.localdate() + dt.timedelta(days=400))
            built[size] = grow_to(size, milestones[size])
        sweeps: dict[int, list[float]] = {size: [] for size in args.sizes}
        tasks: dict[int, list[float]] = {size: [] for size in args.sizes}
        for index in range(args.rounds):
            order = args.sizes if index % 2 == 0 else list(reversed(args.sizes))
            for size in order:
                use_database(urls[size])
                now = timezone.now()
                sweeps[size].append(median_ms(lambda now=now: sweep_once(now), args.runs))
                tasks[size].append(
                    median_ms(lambda now=now: sweep_task_once(now), args.runs, warm_up=1)
                )
        use_database(urls[args.sizes[-1]])
        plan = explain_due_query(timezone.now())
        connection.close()
    print(report(args.sizes, built, sweeps, tasks, plan, args.runs, load))
    return 0


if __name__ == "__main__":
    sys.exit(main())
