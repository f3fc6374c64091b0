"""One public subscription per address: duplicates are merged into one that follows the union
of what they followed (0007 then makes the database keep it that way; a separate migration,
as PostgreSQL cannot build an index on rows this transaction changed).

Runs after the workspace has named its owner reminders (workspace 0004), so that personal
reminders are never merged into the public list.
"""

from django.db import migrations, models
from django.db.models.functions import Lower

RANK = {"active": 0, "pending": 1, "unsubscribed": 2}
MAX_LEAD_TIMES = 10


def _filter_milestones(Milestone, subscription):
    """The milestones a subscription's regulation filter selects (as the selector does)."""
    followed = Milestone.objects.filter(regulation_id=subscription.regulation_id)
    roles = list(subscription.roles.values_list("pk", flat=True))
    scopes = list(subscription.scopes.values_list("pk", flat=True))
    if roles:
        followed = followed.filter(roles__in=roles)
    if scopes:
        followed = followed.filter(scopes__in=scopes)
    if subscription.categories:
        followed = followed.filter(category__in=subscription.categories)
    return list(followed.values_list("pk", flat=True).distinct())


def merge_duplicates(apps, schema_editor):
    Subscription = apps.get_model("reminders", "Subscription")
    Reminder = apps.get_model("reminders", "Reminder")
    Message = apps.get_model("outbox", "Message")
    Milestone = apps.get_model("catalogue", "Milestone")
    public = Subscription.objects.filter(owner_key__isnull=True).exclude(status="merged")
    duplicated = (
        public.annotate(address=Lower("email")).values("address")
        .annotate(n=models.Count("pk")).filter(n__gt=1).values_list("address", flat=True)
    )  # fmt: skip
    for address in list(duplicated):
        rows = sorted(
            public.filter(email__iexact=address),
            key=lambda s: (RANK.get(s.status, 3), s.created_at, s.pk),
        )
        keep, others = rows[0], rows[1:]
        lead_days = set(keep.lead_days)
        for other in others:
            keep.milestones.add(*other.milestones.all())
            if other.regulation_id and not keep.regulation_id:
                keep.regulation_id = other.regulation_id
                keep.categories = other.categories
                keep.roles.set(other.roles.all())
                keep.scopes.set(other.scopes.all())
            elif other.regulation_id:
                same = (
                    other.regulation_id == keep.regulation_id
                    and set(other.roles.all()) == set(keep.roles.all())
                    and set(other.scopes.all()) == set(keep.scopes.all())
                    and sorted(other.categories) == sorted(keep.categories)
                )
                if not same:  # a different filter: keep what it selects, one by one
                    keep.milestones.add(*_filter_milestones(Milestone, other))
            lead_days.update(other.lead_days)
            keep.move_notices = keep.move_notices or other.move_notices
            for reminder in Reminder.objects.filter(subscription=other, status="pending"):
                clash = Reminder.objects.filter(
                    subscription=keep, milestone_id=reminder.milestone_id,
                    occurrence=reminder.occurrence, lead_days=reminder.lead_days,
                ).exists()  # fmt: skip
                if clash:
                    reminder.delete()
                else:
                    Reminder.objects.filter(pk=reminder.pk).update(subscription=keep)
            Message.objects.filter(stream=f"subscription:{other.pk}", status="queued").update(
                stream=f"subscription:{keep.pk}"
            )
            other.status, other.merged_into = "merged", keep
            other.save(update_fields=["status", "merged_into"])
        keep.lead_days = sorted(lead_days, reverse=True)[:MAX_LEAD_TIMES]
        keep.save()


class Migration(migrations.Migration):
    dependencies = [
        ("reminders", "0005_personal_and_merged"),
        ("workspace", "0004_owner_mail_settings"),
        ("outbox", "0001_initial"),
        ("catalogue", "0006_milestone_indicative_and_hours"),
    ]

    operations = [
        migrations.RunPython(merge_duplicates, migrations.RunPython.noop),
    ]
