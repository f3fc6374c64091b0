"""Subscriptions learn who asked for them (personal reminders carry an owner key, a target
date per milestone and their settings page) and that one can be merged into another."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("reminders", "0004_message_moves_to_outbox")]

    operations = [
        migrations.AddField(
            model_name="subscription",
            name="owner_key",
            field=models.CharField(blank=True, editable=False, help_text="Set on personal reminders another app asked for; empty on the public list.", max_length=80, null=True, unique=True),
        ),
        migrations.AddField(
            model_name="subscription",
            name="targets",
            field=models.JSONField(blank=True, default=dict, editable=False, help_text="Personal reminders: milestone id -> the owner's own target date."),
        ),
        migrations.AddField(
            model_name="subscription",
            name="manage_url",
            field=models.URLField(blank=True, editable=False, help_text="Personal reminders: where their settings are."),
        ),
        migrations.AddField(
            model_name="subscription",
            name="requested_at",
            field=models.DateTimeField(blank=True, editable=False, help_text="When confirmation was last asked for.", null=True),
        ),
        migrations.AddField(
            model_name="subscription",
            name="merged_into",
            field=models.ForeignKey(blank=True, editable=False, null=True, on_delete=models.deletion.SET_NULL, related_name="+", to="reminders.subscription"),
        ),
        migrations.AlterField(
            model_name="subscription",
            name="status",
            field=models.CharField(choices=[("pending", "Waiting for confirmation"), ("active", "Active"), ("unsubscribed", "Unsubscribed"), ("merged", "Merged into the address's other subscription")], default="pending", max_length=12),
        ),
    ]
