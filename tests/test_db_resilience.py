"""A database connection the server drops (failover, restart) costs a user nothing."""

from __future__ import annotations

import psycopg
import pytest
from django.db import close_old_connections, connection

from config import settings as config_settings
from tests.pipeline_support import postgres_only

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def kept_connections():
    """The production settings: connections kept between requests, checked before reuse."""
    postgres_only()
    saved = dict(connection.settings_dict)
    production = config_settings.DATABASES["default"]
    connection.settings_dict.update(
        CONN_MAX_AGE=production["CONN_MAX_AGE"],
        CONN_HEALTH_CHECKS=production["CONN_HEALTH_CHECKS"],
    )
    connection.close()
    yield
    connection.close()
    connection.settings_dict.clear()
    connection.settings_dict.update(saved)


def test_a_terminated_session_is_replaced_without_a_500(client, kept_connections, small_pack):
    from tracker.catalogue.pack_load import catalogue_load_file

    catalogue_load_file(path=small_pack)
    assert client.get("/").status_code == 200
    pid = connection.connection.info.backend_pid  # the session the app keeps

    db = connection.settings_dict
    with psycopg.connect(
        host=db["HOST"], port=db["PORT"], user=db["USER"], dbname="postgres", autocommit=True
    ) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])
    # What the WSGI handler does as each request starts (Django's test client skips it).
    close_old_connections()

    assert client.get("/").status_code == 200
    assert connection.connection.info.backend_pid != pid
