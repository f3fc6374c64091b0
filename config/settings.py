"""Jalon settings: one module, driven by the environment.

Every value has a default that lets a fresh checkout run with no external server
(SQLite under var/, a filesystem Celery broker, email written to files). Setting
DATABASE_URL, REDIS_URL or EMAIL_HOST switches to the real services. A malformed value
stops start-up with one line naming the variable and the form it expects, and no traceback
(config/environment.py: `Bad setting DEBUG=perhaps: expected true or false`).
"""

import datetime as dt
import logging
import os
import secrets
import time
import zoneinfo
from pathlib import Path

from celery.schedules import crontab
from environs import validate

from config.environment import BadSetting, Env

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"
VAR_DIR.mkdir(exist_ok=True)

env = Env()
env.read_env(BASE_DIR / ".env", recurse=False)


def _secret_key() -> str:
    """SECRET_KEY from the environment, else one generated once into SECRET_KEY_FILE.

    The file is created exclusively, so processes that start together (web, worker, beat
    sharing a volume) agree on one key: the first writes it, the others read it.
    """
    if value := env.str("SECRET_KEY", ""):
        return value
    path = env.path("SECRET_KEY_FILE", VAR_DIR / "secret_key")
    path = path if path.is_absolute() else BASE_DIR / path
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            for _ in range(50):  # another process may be writing it this very moment
                if value := path.read_text().strip():
                    return value
                time.sleep(0.1)
            raise BadSetting(
                f"Bad setting SECRET_KEY_FILE={path}: the file is empty; "
                "delete it or set SECRET_KEY"
            ) from None
        value = secrets.token_urlsafe(50)
        with os.fdopen(fd, "w") as file:
            file.write(value)
    except OSError as error:
        raise BadSetting(
            f"Bad setting SECRET_KEY_FILE={path}: expected a file Jalon can create and read "
            f"({error.strerror})"
        ) from None
    return value


DEBUG = env.bool("DEBUG", False)
SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", [])
_site_url = env.url("SITE_URL", None, require_tld=False)
SITE_URL = _site_url.geturl().rstrip("/") if _site_url else "http://127.0.0.1:8000"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "simple_history",
    "axes",
    "csp",
    "tracker.catalogue",
    "tracker.accounts",
    "tracker.outbox",
    "tracker.reminders",
    "tracker.workspace",
    "tracker.lawwatch",
    "tracker.api",
    "tracker.web",
    "tracker.webhooks",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Public pages per catalogue version (tracker/web/caching.py): a 304 or a cached page is
    # answered here, before the session, CSRF, auth, messages and CSP middleware below.
    "tracker.web.caching.PublicPageMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    # Last, as django-axes asks: it turns a locked-out sign-in into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "web:signed_in"  # where each person works (tracker/web/pages.py)
LOGOUT_REDIRECT_URL = "web:timeline"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "tracker.accounts.context_processors.email_verification",
            ],
        },
    },
]

DATABASES = {
    "default": env.dj_db_url(
        "DATABASE_URL",
        default=f"sqlite:///{VAR_DIR / 'jalon.sqlite3'}",
        conn_max_age=env.int("DATABASE_CONN_MAX_AGE", 60),
        # A kept connection the server dropped (failover, restart) is replaced, not a 500.
        conn_health_checks=True,
    )
}
# Django turns prepared statements off (psycopg's prepare_threshold None) for poolers that
# cannot keep them. A threshold lets the one statement that asks be prepared: the catalogue's
# stamp, read on every public page (tracker/catalogue/selectors.py); Django's own cursors bind
# on the client and never prepare. DATABASE_PREPARED_STATEMENTS=false behind a pooler in
# transaction mode.
POSTGRESQL_OPTIONS = (
    {"prepare_threshold": 5} if env.bool("DATABASE_PREPARED_STATEMENTS", True) else {}
)
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"].setdefault("OPTIONS", {}).update(POSTGRESQL_OPTIONS)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# django-axes first: it refuses a locked-out account or client before any password is checked.
# Then one backend for the email address (case-insensitive) or the username.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "tracker.accounts.backends.EmailOrUsernameBackend",
]
# Brute force (docs/accounts.md): LOGIN_FAILURE_LIMIT failed sign-ins per account, and
# separately per client address, lock it out until LOGIN_COOLOFF_MINUTES have passed since the
# last failure, even with the right password. Everything that authenticates goes through
# django.contrib.auth.authenticate (the site, the admin), so all of it is covered; the API
# takes sessions only. `manage.py axes_reset_username NAME` / `axes_reset_ip ADDRESS` unlock.
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = dt.timedelta(minutes=env.int("LOGIN_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # each on its own, not the pair
AXES_USERNAME_CALLABLE = "tracker.accounts.lockout.attempted_account"
AXES_CLIENT_IP_CALLABLE = "tracker.accounts.lockout.client_address"
AXES_LOCKOUT_CALLABLE = "tracker.accounts.lockout.lockout_response"
# A success does not clear the failures: otherwise anyone with an account of their own could
# wipe their address's count between guesses at someone else's.
AXES_RESET_ON_SUCCESS = False
# Successful sign-ins are not logged (addresses and browsers kept forever); failures are, for
# the cool-off window.
AXES_DISABLE_ACCESS_LOG = True
AXES_VERBOSE = False  # no banner on every manage.py command; lockouts are still logged
EMAIL_VERIFICATION_MAX_AGE = dt.timedelta(days=env.int("EMAIL_VERIFICATION_DAYS", 3))
EMAIL_VERIFICATION_RESEND_AFTER = dt.timedelta(minutes=10)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"


def _time_zone_known(name: str) -> None:
    try:
        zoneinfo.ZoneInfo(name)
    except (ValueError, zoneinfo.ZoneInfoNotFoundError):
        raise validate.ValidationError("unknown time zone") from None


TIME_ZONE = env.str(
    "TIME_ZONE", "Europe/Brussels", validate=_time_zone_known,
    expected="a time zone name such as Europe/Brussels or UTC",
)  # fmt: skip
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# Evidence files (docs/evidence.md): local files under MEDIA_ROOT by default, an S3-compatible
# bucket when EVIDENCE_S3_BUCKET is set. Never served from a public URL (there is no MEDIA_URL
# route): the workspace streams a file to members of its organisation only.
MEDIA_ROOT = env.path("MEDIA_ROOT", VAR_DIR / "media")
MEDIA_ROOT = MEDIA_ROOT if MEDIA_ROOT.is_absolute() else BASE_DIR / MEDIA_ROOT
EVIDENCE_S3_BUCKET = env.str("EVIDENCE_S3_BUCKET", "")
if EVIDENCE_S3_BUCKET:
    _s3_endpoint = env.url("EVIDENCE_S3_ENDPOINT_URL", None, require_tld=False)
    _s3_keys = (
        env.str("EVIDENCE_S3_ACCESS_KEY_ID", ""),
        env.str("EVIDENCE_S3_SECRET_ACCESS_KEY", ""),
    )
    if bool(_s3_keys[0]) != bool(_s3_keys[1]):
        raise BadSetting(
            "Set both EVIDENCE_S3_ACCESS_KEY_ID and EVIDENCE_S3_SECRET_ACCESS_KEY, or neither "
            "(then boto3 finds credentials itself: instance role, AWS_* variables)."
        )
    STORAGES["evidence"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": EVIDENCE_S3_BUCKET,
            "endpoint_url": _s3_endpoint.geturl() if _s3_endpoint else None,
            "region_name": env.str("EVIDENCE_S3_REGION", "") or None,
            "access_key": _s3_keys[0] or None,
            "secret_key": _s3_keys[1] or None,
            "location": env.str("EVIDENCE_S3_PREFIX", "").strip("/"),
            "addressing_style": env.str(
                "EVIDENCE_S3_ADDRESSING_STYLE",
                "auto",
                validate=validate.OneOf(["auto", "path", "virtual"]),
            ),
            "signature_version": "s3v4",
            "default_acl": "private",  # never readable without our credentials
            "querystring_auth": True,  # no unsigned URL, should one ever be built
            "file_overwrite": False,
        },
    }
else:
    # No location: the storage follows MEDIA_ROOT (tests point it at a temporary folder).
    STORAGES["evidence"] = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"file_permissions_mode": 0o640, "directory_permissions_mode": 0o750},
    }
# Limits of an uploaded evidence file: its size (20 MB unless set) and its type, checked by
# its extension and by its first bytes (tracker/workspace/evidence.py lists what each is).
EVIDENCE_MAX_BYTES = env.int("EVIDENCE_MAX_BYTES", 20 * 1024 * 1024, validate=validate.Range(min=1))
_EVIDENCE_KNOWN_TYPES = ["pdf", "png", "jpeg", "docx", "xlsx", "csv", "txt", "odt", "ods"]
EVIDENCE_TYPES = env.list(
    "EVIDENCE_TYPES", _EVIDENCE_KNOWN_TYPES,
    validate=[validate.ContainsOnly(_EVIDENCE_KNOWN_TYPES), validate.Length(min=1)],
)  # fmt: skip

# The database cache keeps throttling shared between processes and working while Redis is down.
# "pages" keeps rendered public pages in each process's memory, keyed by catalogue version
# (tracker/web/caching.py): a hit costs no query beyond the version's; a new version is a new key.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "jalon_cache",
    },
    "pages": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "jalon-pages",
        "TIMEOUT": 24 * 3600,  # keys hold the date: older ones are never asked for again
        "OPTIONS": {
            "MAX_ENTRIES": env.int("PAGE_CACHE_ENTRIES", 300, validate=validate.Range(min=1))
        },
    },
}
# How long (seconds) a web process may reuse the catalogue stamp it last read for public pages
# instead of reading it for every request (tracker/web/caching.py). 0: every request reads it,
# so an editor's change shows on the very next request.
PUBLIC_PAGE_STAMP_SECONDS = env.float(
    "PUBLIC_PAGE_STAMP_SECONDS", 0.0, validate=validate.Range(min=0, max=60),
    expected="a number of seconds from 0 to 60",
)  # fmt: skip

# Email: SMTP when EMAIL_HOST is set, otherwise one .eml file per message under var/mail/
# (tracker/outbox/mail_backends.py; Django's file backend puts a whole connection in one file).
EMAIL_HOST = env.str("EMAIL_HOST", "")
if EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_PORT = env.int("EMAIL_PORT", 25)
    EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", "")
    EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", "")
    EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", False)
    EMAIL_USE_SSL = env.bool("EMAIL_USE_SSL", False)
    EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", 30)
else:
    EMAIL_BACKEND = "tracker.outbox.mail_backends.FilePerMessageBackend"
    EMAIL_FILE_PATH = VAR_DIR / "mail"
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", "Jalon <reminders@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# Celery: Redis when REDIS_URL is set, otherwise a filesystem broker under var/broker/
# so that `make run` needs no server.
REDIS_URL = env.str("REDIS_URL", "")
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": 3600,
        # Fail fast when Redis is down: the web app keeps answering, rows wait for the sweep.
        "socket_connect_timeout": 2,
        "socket_timeout": 5,
    }
else:
    _broker_dir = VAR_DIR / "broker"
    for _sub in ("queue", "processed"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://localhost//"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "store_processed": False,
        # Where remote control (the `make run` supervisor's ping) is routed; the default is a
        # `control/` folder in whatever directory the process started in.
        "control_folder": str(_broker_dir / "control"),
    }
CELERY_BROKER_CONNECTION_TIMEOUT = 2
# Keep worker database connections between tasks (Celery closes them after each task
# otherwise); config/celery_app.py still drops broken or expired ones.
CELERY_DB_REUSE_MAX = 1000
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# The reviewed beat schedule: every periodic task Jalon runs is listed here.
REMINDER_SWEEP_SECONDS = env.float("REMINDER_SWEEP_SECONDS", 60.0)
CELERY_BEAT_SCHEDULE = {
    "reminders-sweep": {
        "task": "tracker.reminders.tasks.reminders_sweep_task",
        "schedule": REMINDER_SWEEP_SECONDS,
    },
    "reminders-plan-all": {
        "task": "tracker.reminders.tasks.reminders_plan_all_task",
        "schedule": crontab(hour=2, minute=15),
    },
    "subscriptions-expire": {
        "task": "tracker.reminders.tasks.subscriptions_expire_task",
        "schedule": crontab(hour=3, minute=0),
    },
    "workspace-overdue-digests": {
        "task": "tracker.workspace.tasks.overdue_digests_task",
        "schedule": crontab(day_of_week="mon", hour=7, minute=0),
    },
    "catalogue-changes-publish": {
        # Offers again the catalogue changes a follower app has not acknowledged (lost task).
        "task": "tracker.catalogue.tasks.changes_publish_pending_task",
        "schedule": REMINDER_SWEEP_SECONDS,
    },
    "workspace-tracking-sync-all": {
        # Applicability rules ship with the code: a daily pass brings every organisation's
        # items in line after a deploy that changed them.
        "task": "tracker.workspace.tasks.tracking_sync_all_task",
        "schedule": crontab(hour=2, minute=45),
    },
    "lawwatch-check": {
        "task": "tracker.lawwatch.tasks.law_watch_task",
        "schedule": crontab(hour=6, minute=30),
    },
    "workspace-incident-reminders": {
        "task": "tracker.workspace.tasks.incident_reminders_task",
        "schedule": crontab(hour=7, minute=5),
    },
    "workspace-evidence-expiry-reminders": {
        # Hourly, so that each person's reminder arrives at their own local hour.
        "task": "tracker.workspace.evidence_tasks.evidence_expiry_reminders_task",
        "schedule": crontab(minute=20),
    },
    "webhooks-sweep": {
        "task": "tracker.webhooks.tasks.webhooks_sweep_task",
        "schedule": REMINDER_SWEEP_SECONDS,
    },
    "webhooks-plan": {
        # Hourly: due-soon, overdue and incident-deadline events (docs/webhooks.md).
        "task": "tracker.webhooks.tasks.webhooks_plan_task",
        "schedule": crontab(minute=25),
    },
}
# Task modules that are not an app's tasks.py (autodiscovery finds only those).
CELERY_IMPORTS = ["tracker.workspace.evidence_tasks"]

# The most emails of one kind one address may receive in 24 hours (tracker/outbox): one over
# its cap is kept, cancelled with the reason, where the admin sees it.
OUTBOX_DAILY_CAPS = {
    "default": env.int("OUTBOX_DAILY_CAP", 20),
    "confirmation": 3,
    "manage": 1,
    "invitation": 5,
    "test": 10,
    "verify_email": 5,
    "account_exists": 3,
    "password_reset": 5,
    # A legal clock is the mail we can least afford to drop: one per open incident per person
    # per day, and the incidents are recorded by members of the person's own organisations.
    "incident_clock": env.int("OUTBOX_INCIDENT_CAP", 200),
    "incident_recorded": env.int("OUTBOX_INCIDENT_CAP", 200),
}

# A throttle rate as DRF reads it (requests per second, minute, hour or day).
_RATE = validate.Regexp(r"^[0-9]+/(s|sec|second|m|min|minute|h|hour|d|day)$")
_RATE_FORM = "a rate such as 10/hour (per second, minute, hour or day)"
REST_FRAMEWORK = {
    # Throttles key on the client address: X-Forwarded-For is read only behind this many
    # trusted proxies (0: never, so a forged header cannot pose as another client).
    "NUM_PROXIES": env.int("TRUSTED_PROXIES", 0),
    # Personal API tokens (Bearer or Token; random 256-bit secrets, failures throttled per
    # address), then sessions. No HTTP Basic, so the API is no way around the sign-in lockout.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "tracker.api.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "tracker.api.pagination.Pagination",
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "subscribe": env.str("SUBSCRIBE_RATE", "10/hour", validate=_RATE, expected=_RATE_FORM),
        "applicability": env.str(
            "APPLICABILITY_RATE", "120/hour", validate=_RATE, expected=_RATE_FORM
        ),
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Jalon API",
    "DESCRIPTION": "The sourced catalogue of EU technology law deadlines.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "REDOC_DIST": "SIDECAR",  # served by WhiteNoise, no CDN
    "ENUM_NAME_OVERRIDES": {"CategoryEnum": "tracker.catalogue.models.Milestone.Category"},
}

# HTTPS hardening; SECURE=true behind a TLS-terminating proxy in production.
SECURE = env.bool("SECURE", False)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if SECURE else None
SECURE_SSL_REDIRECT = SECURE
SESSION_COOKIE_SECURE = SECURE
CSRF_COOKIE_SECURE = SECURE
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", 31536000 if SECURE else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE
# Preloading is a promise to browsers that is slow to take back: opt in with
# SECURE_HSTS_PRELOAD=true once every subdomain serves HTTPS, then submit the domain to
# hstspreload.org. Off, the deploy check's reminder about it (W021) is silenced on purpose.
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", False)
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# Content-Security-Policy (django-csp 4): scripts and styles from our own origin only, no
# inline script, no style attribute, never framed. The one page that needs more (the API's
# Redoc docs) loosens it for itself in config/urls.py.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'"],
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# One line format for every process (web, worker, beat, `make run`): the time in TIME_ZONE with
# its offset (Django sets each process's zone from TIME_ZONE), the level, the message. Celery
# (config/celery_app.py) and gunicorn (config/gunicorn.conf.py) log through this too.
LOG_FORMAT = "%(asctime)s %(levelname)s %(message)s"
LOG_DATE_FORMAT = "%Y-%m-%d %H:%M:%S %z"
LOG_LEVEL = env.log_level("LOG_LEVEL", "INFO")
# Celery's "Task ... received" and "... succeeded" lines, two per task (hundreds after the first
# catalogue load), only with LOG_LEVEL=DEBUG or LOG_TASKS=true (bench/delivery.py reads the
# send tasks' times from them); a task's failure is logged at any level.
_TASK_LINES = (
    "DEBUG" if LOG_LEVEL in ("DEBUG", logging.DEBUG) or env.bool("LOG_TASKS", False) else "WARNING"
)
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"line": {"format": LOG_FORMAT, "datefmt": LOG_DATE_FORMAT}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "line"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "celery.app.trace": {"level": _TASK_LINES},
        "celery.worker.strategy": {"level": _TASK_LINES},
        "gunicorn.error": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "gunicorn.access": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}

# The apps that follow the catalogue: each consumes every milestone change after commit, in a
# task of its own (by name, so the catalogue imports none of them) and acknowledges it.
CATALOGUE_CHANGE_CONSUMERS = {
    "reminders": "tracker.reminders.tasks.milestone_change_consume_task",
    "workspace": "tracker.workspace.tasks.milestone_change_consume_task",
    "webhooks": "tracker.webhooks.tasks.milestone_change_consume_task",
}

# The law watch asks the EU's official sources about the tracked acts once a day. Off by
# default: these machines (and anyone offline) have no network; see docs/law-watch.md.
LAW_WATCH_ENABLED = env.bool("LAW_WATCH_ENABLED", False)
LAW_WATCH_SPARQL_URL = env.str(
    "LAW_WATCH_SPARQL_URL", "https://publications.europa.eu/webapi/rdf/sparql"
)
LAW_WATCH_FEED_URLS = env.list("LAW_WATCH_FEED_URLS", [])
LAW_WATCH_TIMEOUT = env.float("LAW_WATCH_TIMEOUT", 20.0)

# Webhooks (docs/webhooks.md): seconds to wait for an endpoint, attempts before a delivery
# fails, failed deliveries in a row before an endpoint is disabled. WEBHOOK_ALLOW_PRIVATE lets
# endpoints call loopback and private addresses: tests and local development only.
WEBHOOK_TIMEOUT = env.float("WEBHOOK_TIMEOUT", 5.0, validate=validate.Range(min=0.1, max=60))
WEBHOOK_MAX_ATTEMPTS = env.int("WEBHOOK_MAX_ATTEMPTS", 8, validate=validate.Range(min=1, max=20))
WEBHOOK_DISABLE_AFTER = env.int("WEBHOOK_DISABLE_AFTER", 5, validate=validate.Range(min=1))
WEBHOOK_ALLOW_PRIVATE = env.bool("WEBHOOK_ALLOW_PRIVATE", False)

env.seal()
