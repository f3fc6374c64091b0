"""Gunicorn's settings for Jalon: `gunicorn config.wsgi -c config/gunicorn.conf.py --bind ...`.

Used by the Procfile (`make run`), docker-compose.yml and the Dockerfile; each gives only its
address. The settings are read here, in the master, before any worker starts, so that:

- a bad setting stops gunicorn with its one line (config/environment.py), instead of every
  worker failing to boot in turn;
- the master logs in TIME_ZONE like its workers (Django sets the process's zone from it), in
  the one format of settings.LOGGING, access lines included.
"""

import os

from django.conf import settings

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

logconfig_dict = settings.LOGGING
# The time comes from the log format; %(h)s is the client as gunicorn sees it (the proxy).
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"'
accesslog = "-"
workers = 2
limit_request_line = 16384  # long filter query strings on the timeline and the API
# On SIGTERM (Ctrl-C under `make run`, `docker compose stop`) requests under way may finish.
graceful_timeout = 20
