"""Test settings: the real settings with fast hashing, plain static storage and in-memory mail.

JALON_TEST_DB=postgres runs the suite on PostgreSQL (TEST_DATABASE_URL, default
postgres://postgres@127.0.0.1:5432/jalon); otherwise SQLite.
"""

import os

import dj_database_url

from config.settings import *  # noqa: F403
from config.settings import POSTGRESQL_OPTIONS, STORAGES

if os.environ.get("JALON_TEST_DB") == "postgres":
    DATABASES = {
        "default": {
            **dj_database_url.parse(
                os.environ.get("TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/jalon")
            ),
            "OPTIONS": POSTGRESQL_OPTIONS,
        }
    }
else:
    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES = {
    **STORAGES,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_AUTOREFRESH = True
SECURE_SSL_REDIRECT = False
