"""Shared fixtures: personas, packs, and the gates for tests that need real services.

Tests marked `redis` or `browser` (and the whole PostgreSQL run, see tests/settings.py) need
a real service. Outside CI they skip with the reason; under CI=true a missing service fails.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from django.contrib.auth.models import Group
from django.db import connection

from tests.catalogue_cache import packs_load
from tests.factories import UserFactory
from tests.pipeline_support import FaultySMTPHandler, RedisServer, Worker
from tests.smtp import free_port
from tracker.catalogue.pack_load import catalogue_load_file

IN_CI = os.environ.get("CI", "").lower() == "true"
ROOT = Path(__file__).resolve().parent.parent
PACKS = Path(__file__).resolve().parent / "packs"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


def _redis_url() -> str:
    """Database 15, or under pytest-xdist one database per worker (gw0 15, gw1 13, gw2 12...;
    14 is the benchmarks'): tests purge their broker and start workers that consume it."""
    if url := os.environ.get("TEST_REDIS_URL"):
        return url
    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
    return f"redis://127.0.0.1:6379/{15 if worker == 0 else 14 - worker}"


REDIS_URL = _redis_url()


def require(available: bool, reason: str) -> None:
    """Skip (outside CI) or fail (under CI=true) when a real service is missing."""
    if available:
        return
    if IN_CI:
        pytest.fail(f"CI=true and {reason}", pytrace=False)
    pytest.skip(reason)


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def pytest_sessionstart(session):
    if os.environ.get("JALON_TEST_DB") == "postgres" and not port_open("127.0.0.1", 5432):
        message = "PostgreSQL is not reachable on 127.0.0.1:5432"
        if IN_CI:
            pytest.exit(f"CI=true and {message}", returncode=1)
        pytest.exit(f"Skipping the PostgreSQL run: {message}", returncode=0)


def pytest_report_header(config):
    return f"database: {os.environ.get('JALON_TEST_DB', 'sqlite')}; CI={IN_CI}"


@pytest.fixture
def redis_url() -> str:
    require(port_open("127.0.0.1", 6379), "Redis is not reachable on 127.0.0.1:6379")
    return REDIS_URL


@pytest.fixture
def chromium_path() -> str:
    require(
        shutil.which(CHROMIUM) is not None,
        f"no Chromium at {CHROMIUM} (apt-get install chromium)",
    )
    return CHROMIUM


@pytest.fixture
def small_pack() -> Path:
    return PACKS / "small.yaml"


@pytest.fixture
def loaded_small_pack(db, small_pack):
    return catalogue_load_file(path=small_pack)


@pytest.fixture
def ai_act_catalogue(db):
    """The real milestone packs from fixtures/ (`make run` loads the obligations pack in
    fixtures/obligations/ too). Without duties, each milestone is tracked as a whole, which
    is what most workspace tests follow; a test of duties adds them with
    `tests.duty_support.obligations_load()`. Loaded once per process, then copied
    (tests/catalogue_cache.py)."""
    packs_load(sorted((ROOT / "fixtures").glob("*.yaml")))


# Personas ------------------------------------------------------------------------------


@pytest.fixture
def admin_user(db):
    return UserFactory(username="admin", is_staff=True, is_superuser=True)


@pytest.fixture
def editor(db):
    user = UserFactory(username="editor", is_staff=True)
    user.groups.add(Group.objects.get(name="Catalogue editors"))
    return user


@pytest.fixture
def staff_outsider(db):
    """Staff, but not in the catalogue-editor group."""
    return UserFactory(username="outsider", is_staff=True)


@pytest.fixture
def officer(db):
    """A startup's compliance officer (owner of the `org` a module defines)."""
    return UserFactory(username="officer", email="officer@example.org")


@pytest.fixture
def teammate(db):
    return UserFactory(username="teammate", email="teammate@example.org")


@pytest.fixture
def viewer(org):
    """A member of the module's `org` who may read but not write."""
    from tracker.workspace.models import Membership

    user = UserFactory(username="viewer")
    Membership.objects.create(organisation=org, user=user, role="viewer")
    return user


@pytest.fixture
def outsider(db):
    """Someone with an organisation of their own, and none of ours."""
    from tracker.workspace.services import organisation_create

    other = UserFactory(username="outsider")
    organisation_create(name="Other Co", owner=other)
    return other


@pytest.fixture
def on_postgres() -> bool:
    return connection.vendor == "postgresql"


@pytest.fixture
def smtp_server(settings):
    """A real SMTP server on loopback, with Django's SMTP backend pointed at it."""
    from tests.smtp import SMTPServer

    with SMTPServer() as server:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST = "127.0.0.1"
        settings.EMAIL_PORT = server.port
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        settings.EMAIL_TIMEOUT = 5
        yield server


@pytest.fixture
def eager_celery():
    """Run tasks inline (the browser and admin tests want the whole chain in one process)."""
    from config.celery_app import app

    app.conf.task_always_eager = True
    yield app
    app.conf.task_always_eager = False


@pytest.fixture
def after_commit(django_capture_on_commit_callbacks, eager_celery):
    """`with after_commit(): ...` runs what the commit would start: the catalogue's consumers
    and the sends they dispatch, inline, as a worker would after the editor's request."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


# Real browser -----------------------------------------------------------------------------
# Each browser test module defines a `site` fixture (the live server with its data loaded):
# data must be written before Playwright starts, because the sync Playwright API keeps an
# asyncio loop running in the test thread and Django refuses ORM calls from such a thread.

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def browser(site, chromium_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def new_page(browser):
    """Open a page in a fresh context (`new_page(**context_options)`); all closed afterwards."""
    contexts = []

    def open_page(**options):
        context = browser.new_context(**options)
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page):
    return new_page(viewport={"width": 1280, "height": 900})


# Servers and workers a pipeline test starts and stops (tests/pipeline_support.py) ---------


@pytest.fixture
def redis_server(tmp_path):
    require(shutil.which("redis-server") is not None, "no redis-server binary on PATH")
    server = RedisServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def smtp_server_with(caplog):
    """Start an SMTP server on loopback with a FaultySMTPHandler made from the arguments."""
    caplog.set_level(logging.WARNING, logger="mail.log")  # aiosmtpd logs every command
    controllers = []

    def start(**handler_options) -> tuple[FaultySMTPHandler, int]:
        handler = FaultySMTPHandler(**handler_options)
        port = free_port()
        controller = Controller(handler, hostname="127.0.0.1", port=port)
        controller.start()
        controllers.append(controller)
        return handler, port

    try:
        yield start
    finally:
        for controller in controllers:
            controller.stop()


@pytest.fixture
def start_worker(tmp_path):
    started: list[Worker] = []

    def start(*, broker_url: str, smtp_port: int, concurrency: int = 2) -> Worker:
        worker = Worker(
            broker_url=broker_url,
            smtp_port=smtp_port,
            concurrency=concurrency,
            log_path=tmp_path / f"worker{len(started) + 1}.log",
        )
        started.append(worker)
        worker.start()
        return worker

    try:
        yield start
    finally:
        for worker in started:
            worker.stop()
