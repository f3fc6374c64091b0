"""What the webhook tests share (no tests here): a real HTTP receiver on 127.0.0.1, the URL
configuration with the webhook pages, and an organisation with an owner.

The receiver records every request (headers and body) and answers from a script: a status
code, or ("sleep", seconds) to outlast the client's timeout, then 200 by default.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.urls import include, path

from config.urls import urlpatterns as site_urlpatterns
from tests.factories import UserFactory

# Until config/urls.py includes the webhook pages, tests route them here (and then, as is).
_included = any(getattr(p, "namespace", None) == "webhooks" for p in site_urlpatterns)
urlpatterns = [
    *([] if _included else [path("w/", include("tracker.webhooks.urls"))]),
    *site_urlpatterns,
]
URLS = "tests.test_webhooks_support"


@dataclass
class Received:
    path: str
    headers: dict
    body: bytes


@dataclass
class Receiver:
    """A local endpoint: `url`, the `requests` it got, and a `script` of answers."""

    server: ThreadingHTTPServer
    requests: list[Received] = field(default_factory=list)
    script: list = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    delay: float = 0.0

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/hook"

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def ids(self) -> list[str]:
        return [r.headers["webhook-id"] for r in self.requests]


def _handler(receiver: Receiver):
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            with receiver.lock:
                receiver.requests.append(
                    Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                )
                action = receiver.script.pop(0) if receiver.script else 200
            if receiver.delay:
                time.sleep(receiver.delay)
            if isinstance(action, tuple):  # ("sleep", seconds): past the client's timeout
                time.sleep(action[1])
                action = 200
            try:
                self.send_response(action)
                self.send_header("content-type", "text/plain")
                self.end_headers()
                self.wfile.write(f"answer {action}".encode())
            except OSError:
                pass  # the client gave up (timeout)

        def log_message(self, *args):
            pass

    return Handler


@pytest.fixture
def receiver():
    holder = Receiver(server=None)  # type: ignore[arg-type]
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(holder))
    server.daemon_threads = True
    holder.server = server
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield holder
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def allow_loopback(settings):
    """Tests (and local development) may call 127.0.0.1; production never sets this."""
    settings.WEBHOOK_ALLOW_PRIVATE = True
    settings.WEBHOOK_TIMEOUT = 1.0


@pytest.fixture
def owner(db):
    return UserFactory(username="olive", email="olive@example.org", first_name="Olive")


@pytest.fixture
def org(owner):
    from tracker.workspace.services import organisation_create

    return organisation_create(name="Acme AI", owner=owner)


def make_endpoint(org, url: str, *, format: str = "generic", events=None, **fields):
    """An endpoint written directly (the URL check is the form's and the admin's)."""
    from tracker.webhooks.models import EVENT_TYPES, Endpoint
    from tracker.webhooks.services import secret_new

    return Endpoint.objects.create(
        organisation=org, name=fields.pop("name", "Hook"), url=url, format=format,
        events=list(EVENT_TYPES) if events is None else events, secret=secret_new(), **fields,
    )  # fmt: skip
