"""The Celery application, configured from Django settings (``CELERY_`` namespace)."""

import os

from celery import Celery
from celery.signals import setup_logging, task_postrun, task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("jalon")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@setup_logging.connect
def _log_as_the_web_does(**kwargs) -> None:
    """Workers and beat log through settings.LOGGING: one format, one time zone everywhere.

    Connecting here stops Celery from installing its own handlers (a second format, and the
    time without its zone); LOG_LEVEL sets the level, not `--loglevel`.
    """
    from logging.config import dictConfig

    from django.conf import settings

    dictConfig(settings.LOGGING)


@task_prerun.connect
@task_postrun.connect
def _close_old_connections(task=None, **kwargs) -> None:
    """Honour CONN_MAX_AGE and drop broken connections around each task, as a request does.

    Not for eager tasks: they run inside the caller's request or transaction.
    """
    if task is not None and task.request.is_eager:
        return
    from django.db import close_old_connections

    close_old_connections()
