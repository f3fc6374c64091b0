from django.apps import AppConfig


class RemindersConfig(AppConfig):
    name = "tracker.reminders"
    verbose_name = "Reminder engine"
