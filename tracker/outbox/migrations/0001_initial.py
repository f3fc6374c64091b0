"""The outbox takes over the reminders app's message table as it is (no database change)."""

from django.db import migrations, models
from django.db.models import Q


class Migration(migrations.Migration):
    initial = True

    dependencies = [("reminders", "0003_message_stream_and_topic")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="Message",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("kind", models.CharField(max_length=40)),
                        ("to_email", models.EmailField(max_length=254)),
                        ("stream", models.CharField(blank=True, default="", max_length=80)),
                        ("topic", models.CharField(blank=True, default="", max_length=80)),
                        ("dedupe_key", models.CharField(blank=True, help_text="Set on periodic emails so that planning one twice cannot send it twice.", max_length=120, null=True, unique=True)),
                        ("subject", models.CharField(max_length=300)),
                        ("body_text", models.TextField()),
                        ("body_html", models.TextField(blank=True)),
                        ("headers", models.JSONField(blank=True, default=dict)),
                        ("status", models.CharField(choices=[("queued", "Queued"), ("sending", "Sending"), ("sent", "Sent"), ("failed", "Failed"), ("cancelled", "Cancelled")], default="queued", max_length=10)),
                        ("attempts", models.PositiveSmallIntegerField(default=0)),
                        ("recoveries", models.PositiveSmallIntegerField(default=0, help_text="Times a worker died while sending it and the sweep put it back.")),
                        ("last_error", models.TextField(blank=True)),
                        ("next_attempt_at", models.DateTimeField()),
                        ("lease_until", models.DateTimeField(blank=True, null=True)),
                        ("dispatched_at", models.DateTimeField(blank=True, help_text="When a send task was last put on the broker.", null=True)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        ("sent_at", models.DateTimeField(blank=True, null=True)),
                    ],
                    options={
                        "db_table": "reminders_message",
                        "indexes": [
                            models.Index(condition=Q(("status", "queued")), fields=["next_attempt_at"], name="message_queued_idx"),
                            models.Index(condition=Q(("status", "sending")), fields=["lease_until"], name="message_sending_idx"),
                            models.Index(fields=["to_email", "created_at"], name="message_recipient_idx"),
                            models.Index(condition=Q(("status", "queued")), fields=["stream"], name="message_stream_idx"),
                            models.Index(condition=Q(("status", "queued")), fields=["topic"], name="message_topic_idx"),
                        ],
                    },
                )
            ],
            database_operations=[],
        )
    ]
