"""Items never vanish and states are honest.

Schema: when and why an item stopped applying, who keeps tracking it on purpose, the status
"In force: confirm you comply", and bounded target dates.

Data: an open item nobody planned (no target date) whose legal date had passed when its
organisation was created becomes "In force: confirm you comply" instead of counting as
overdue; an item that already no longer applied gets the date it stopped (from its history)
and says that the reason was not recorded then. Both changes are written to the items'
history, as Jalon's.
"""

import datetime
import django.core.validators
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models
from django.utils import timezone

REASON = "Jalon 0005: in force before the organisation existed; overdue no longer"
UNKNOWN = (
    "The rules stopped selecting it before Jalon recorded what changed (the facts or the "
    "catalogue)."
)


def _history_row(historical, item, now, reason):
    fields = {f.attname: getattr(item, f.attname) for f in item._meta.concrete_fields}
    return historical(**fields, history_date=now, history_type="~", history_change_reason=reason)


def _stopped_at(history, item, now):
    """When the latest run of "does not apply" began, by the item's history."""
    began = None
    for row in history.objects.filter(id=item.pk).order_by("history_date", "history_id"):
        if row.applies:
            began = None
        elif began is None:
            began = row.history_date
    return began or now


def forwards(apps, schema_editor):
    item_model = apps.get_model("workspace", "TrackedItem")
    history = apps.get_model("workspace", "HistoricalTrackedItem")
    now = timezone.now()
    rows = []
    candidates = item_model.objects.filter(
        status="not_started", target_date__isnull=True, milestone__date__isnull=False
    ).select_related("organisation", "milestone")
    for item in candidates.iterator(chunk_size=500):
        if item.milestone.date <= timezone.localdate(item.organisation.created_at):
            item.status = "to_confirm"
            item.save(update_fields=["status"])
            rows.append(_history_row(history, item, now, REASON))
    for item in item_model.objects.filter(applies=False, stopped_at__isnull=True).iterator(
        chunk_size=500
    ):
        item.stopped_at = _stopped_at(history, item, now)
        item.stopped_reason = UNKNOWN
        item.save(update_fields=["stopped_at", "stopped_reason"])
        rows.append(_history_row(history, item, now, "Jalon 0005: when it stopped applying"))
    history.objects.bulk_create(rows, batch_size=500)
    # PostgreSQL: run the deferred foreign-key checks of these rows now, or the indexes this
    # migration creates at its end meet "pending trigger events".
    schema_editor.connection.check_constraints()


def backwards(apps, schema_editor):
    item_model = apps.get_model("workspace", "TrackedItem")
    item_model.objects.filter(status="to_confirm").update(status="not_started")
    schema_editor.connection.check_constraints()


class Migration(migrations.Migration):
    dependencies = [
        ("workspace", "0004_owner_mail_settings"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="historicaltrackeditem",
            name="kept_at",
            field=models.DateTimeField(
                blank=True,
                help_text="When a member chose to keep tracking it although the rules no longer select it.",
                null=True,
            ),
        ),
        migrations.AddField(
            model_name="historicaltrackeditem",
            name="kept_by",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddField(
            model_name="historicaltrackeditem",
            name="stopped_at",
            field=models.DateTimeField(
                blank=True, help_text="When the rules stopped selecting it.", null=True
            ),
        ),
        migrations.AddField(
            model_name="historicaltrackeditem",
            name="stopped_reason",
            field=models.TextField(
                blank=True, help_text="What changed so that the rules no longer select it."
            ),
        ),
        migrations.AddField(
            model_name="trackeditem",
            name="kept_at",
            field=models.DateTimeField(
                blank=True,
                help_text="When a member chose to keep tracking it although the rules no longer select it.",
                null=True,
            ),
        ),
        migrations.AddField(
            model_name="trackeditem",
            name="kept_by",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddField(
            model_name="trackeditem",
            name="stopped_at",
            field=models.DateTimeField(
                blank=True, help_text="When the rules stopped selecting it.", null=True
            ),
        ),
        migrations.AddField(
            model_name="trackeditem",
            name="stopped_reason",
            field=models.TextField(
                blank=True, help_text="What changed so that the rules no longer select it."
            ),
        ),
        migrations.AlterField(
            model_name="historicaltrackeditem",
            name="applies",
            field=models.BooleanField(
                default=True,
                help_text="False when the rules no longer select it (kept, with its work and history).",
            ),
        ),
        migrations.AlterField(
            model_name="historicaltrackeditem",
            name="reasons",
            field=models.JSONField(
                default=list,
                help_text="Why it applies: rule, article, text (kept as they were when it stopped).",
            ),
        ),
        migrations.AlterField(
            model_name="historicaltrackeditem",
            name="status",
            field=models.CharField(
                choices=[
                    ("not_started", "Not started"),
                    ("to_confirm", "In force: confirm you comply"),
                    ("in_progress", "In progress"),
                    ("done", "Done"),
                    ("not_applicable", "Not applicable"),
                ],
                default="not_started",
                help_text="“In force: confirm you comply” is where an item starts when its date had passed before the organisation was created.",
                max_length=16,
            ),
        ),
        migrations.AlterField(
            model_name="historicaltrackeditem",
            name="target_date",
            field=models.DateField(
                blank=True,
                help_text="Defaults to the legal date.",
                null=True,
                validators=[
                    django.core.validators.MinValueValidator(
                        datetime.date(2000, 1, 1),
                        "Choose a target date between 1 January 2000 and 31 December 2100.",
                    ),
                    django.core.validators.MaxValueValidator(
                        datetime.date(2100, 12, 31),
                        "Choose a target date between 1 January 2000 and 31 December 2100.",
                    ),
                ],
            ),
        ),
        migrations.AlterField(
            model_name="trackeditem",
            name="applies",
            field=models.BooleanField(
                default=True,
                help_text="False when the rules no longer select it (kept, with its work and history).",
            ),
        ),
        migrations.AlterField(
            model_name="trackeditem",
            name="reasons",
            field=models.JSONField(
                default=list,
                help_text="Why it applies: rule, article, text (kept as they were when it stopped).",
            ),
        ),
        migrations.AlterField(
            model_name="trackeditem",
            name="status",
            field=models.CharField(
                choices=[
                    ("not_started", "Not started"),
                    ("to_confirm", "In force: confirm you comply"),
                    ("in_progress", "In progress"),
                    ("done", "Done"),
                    ("not_applicable", "Not applicable"),
                ],
                default="not_started",
                help_text="“In force: confirm you comply” is where an item starts when its date had passed before the organisation was created.",
                max_length=16,
            ),
        ),
        migrations.AlterField(
            model_name="trackeditem",
            name="target_date",
            field=models.DateField(
                blank=True,
                help_text="Defaults to the legal date.",
                null=True,
                validators=[
                    django.core.validators.MinValueValidator(
                        datetime.date(2000, 1, 1),
                        "Choose a target date between 1 January 2000 and 31 December 2100.",
                    ),
                    django.core.validators.MaxValueValidator(
                        datetime.date(2100, 12, 31),
                        "Choose a target date between 1 January 2000 and 31 December 2100.",
                    ),
                ],
            ),
        ),
        migrations.RunPython(forwards, backwards),
    ]
