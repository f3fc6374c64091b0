from django.apps import AppConfig


class LawwatchConfig(AppConfig):
    name = "tracker.lawwatch"
    verbose_name = "Law watch"
