from django.apps import AppConfig


class WorkspaceConfig(AppConfig):
    name = "tracker.workspace"
    verbose_name = "Organisation workspace"
