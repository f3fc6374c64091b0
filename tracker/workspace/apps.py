from django.apps import AppConfig


class WorkspaceConfig(AppConfig):
    name = "tracker.workspace"
    verbose_name = "Organisation workspace"

    def ready(self) -> None:
        from tracker.workspace import receivers

        receivers.connect()
