from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "tracker.webhooks"
    verbose_name = "Webhooks"
