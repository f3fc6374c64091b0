"""The outbox forgets its clients: a message names the stream a recipient can stop
("subscription:42") instead of pointing at a subscription, and its kind is free text."""

from django.db import migrations, models
from django.db.models import CharField, Q, Value
from django.db.models.functions import Cast, Concat


def streams_from_subscriptions(apps, schema_editor):
    Message = apps.get_model("reminders", "Message")
    Message.objects.filter(subscription__isnull=False).update(
        stream=Concat(Value("subscription:"), Cast("subscription_id", CharField()))
    )


class Migration(migrations.Migration):
    dependencies = [("reminders", "0002_subscription_problem")]

    operations = [
        migrations.AddField(
            model_name="message", name="stream",
            field=models.CharField(blank=True, default="", max_length=80),
        ),
        migrations.AddField(
            model_name="message", name="topic",
            field=models.CharField(blank=True, default="", max_length=80),
        ),
        migrations.RunPython(streams_from_subscriptions, migrations.RunPython.noop),
        migrations.RemoveField(model_name="message", name="subscription"),
        migrations.AlterField(
            model_name="message", name="kind", field=models.CharField(max_length=40)
        ),
        migrations.AddIndex(
            model_name="message",
            index=models.Index(fields=["to_email", "created_at"], name="message_recipient_idx"),
        ),
        migrations.AddIndex(
            model_name="message",
            index=models.Index(
                fields=["stream"], name="message_stream_idx", condition=Q(status="queued")
            ),
        ),
        migrations.AddIndex(
            model_name="message",
            index=models.Index(
                fields=["topic"], name="message_topic_idx", condition=Q(status="queued")
            ),
        ),
    ]
