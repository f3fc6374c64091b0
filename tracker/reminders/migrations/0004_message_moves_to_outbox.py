"""The Message model now belongs to the outbox app; its table stays where it is."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("reminders", "0003_message_stream_and_topic"), ("outbox", "0001_initial")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="reminder",
                    name="message",
                    field=models.ForeignKey(
                        blank=True, null=True, on_delete=models.deletion.SET_NULL,
                        related_name="reminders", to="outbox.message",
                    ),
                ),
                migrations.DeleteModel(name="Message"),
            ],
            database_operations=[],
        )
    ]
