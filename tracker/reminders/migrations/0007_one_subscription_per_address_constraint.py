"""The database keeps one public subscription per address (the lower-cased address)."""

from django.db import migrations, models
from django.db.models import Q
from django.db.models.functions import Lower


class Migration(migrations.Migration):
    dependencies = [("reminders", "0006_one_subscription_per_address")]

    operations = [
        migrations.AddConstraint(
            model_name="subscription",
            constraint=models.UniqueConstraint(
                Lower("email"),
                condition=Q(owner_key__isnull=True) & ~Q(status="merged"),
                name="subscription_one_per_address",
                violation_error_message="This address already has a subscription.",
            ),
        ),
    ]
