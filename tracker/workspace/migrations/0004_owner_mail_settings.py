"""Owner reminders become personal reminders of the reminder engine, named by a key the
workspace derives from the organisation and the person; the workspace keeps only what else
each person wants to hear (digest, incident clock, moved items)."""

from django.conf import settings
from django.db import migrations, models


def link_by_key(apps, schema_editor):
    OwnerReminders = apps.get_model("workspace", "OwnerReminders")
    Subscription = apps.get_model("reminders", "Subscription")
    for link in OwnerReminders.objects.select_related("organisation"):
        Subscription.objects.filter(pk=link.subscription_id).update(
            owner_key=f"workspace:{link.organisation_id}:{link.user_id}",
            manage_url=f"{settings.SITE_URL}/w/{link.organisation.slug}/my-reminders/",
        )


class Migration(migrations.Migration):
    dependencies = [
        ("workspace", "0003_incident_clocks"),
        ("reminders", "0005_personal_and_merged"),
    ]

    operations = [
        migrations.RunPython(link_by_key, migrations.RunPython.noop),
        migrations.RemoveField(model_name="ownerreminders", name="subscription"),
        migrations.AddField(
            model_name="ownerreminders",
            name="overdue_digest",
            field=models.BooleanField(default=True, help_text="Weekly digest of overdue items."),
        ),
        migrations.AddField(
            model_name="ownerreminders",
            name="incident_clock",
            field=models.BooleanField(default=True, help_text="Daily reminder of an unreported incident's deadline."),
        ),
        migrations.AddField(
            model_name="ownerreminders",
            name="item_moved",
            field=models.BooleanField(default=True, help_text="Notice when an item's date moves."),
        ),
    ]
