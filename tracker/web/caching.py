"""Public pages cached per catalogue version: validators, 304s, shared bodies, gzip.

A view opts in with `@public_page` (a DRF view with a class attribute `public_page = True`:
the API may not import this app, tracker/api and tracker/web being independent layers).
`PublicPageMiddleware` (settings.MIDDLEWARE) then, for a GET or HEAD of such a view:

1. reads the catalogue's stamp in one query (`catalogue_stamp`, standing in for the connection
   health check: `_stamp_read`) and builds a strong ETag from it, today's date in the site's
   zone (pages count days), the full path with its query, the `Accept` header for the API (the
   negotiated format), and a hash of the code and templates (a deploy that changes a page
   changes its ETag);
2. answers 304 to a matching `If-None-Match` (or `If-Modified-Since` when there is none);
3. serves the body rendered earlier for that ETag from the "pages" cache (per process): no
   rendering and no query beyond the stamp; gzip-compressed once, at the miss;
4. otherwise lets the view run with `request.public_page` set (base.html then draws the
   header every visitor gets and no banner, so neither the session nor the user is read) and
   keeps a 200 body for the next request.

Every answer says `Cache-Control: public, max-age=60` (a browser or CDN keeps it a minute,
then revalidates) and varies on `Accept-Encoding` (and `Accept` for the API), never on Cookie.
An amendment changes the stamp, so the next request gets a new ETag and a fresh page (or, if
PUBLIC_PAGE_STAMP_SECONDS lets a process reuse its last stamp that long, the first request
after it: a round trip to the database saved per page, against the 60 s a browser may keep a
page without asking anyway). Error answers (400, 404) are neither cached nor given validators.
A response that read the session or the CSRF token (the browsable API's forms) is never
shared: it goes out `private`, as it was.
"""

from __future__ import annotations

import datetime as dt
import functools
import gzip
import hashlib
import re
import time
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.cache import caches
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, resolve
from django.utils import timezone
from django.utils.cache import get_conditional_response, patch_cache_control, patch_vary_headers
from django.utils.http import http_date

from tracker.catalogue.selectors import CatalogueStamp, catalogue_stamp

CACHE_ALIAS = "pages"
MAX_AGE = 60  # seconds a browser or CDN may reuse a page before it revalidates
# Bump when what a cached entry holds changes shape.
ENTRY_FORMAT = 1
_ACCEPTS_GZIP = re.compile(r"\bgzip\b")
# Headers the middleware sets itself on every answer; a stored entry does not keep them.
_OWN_HEADERS = {"etag", "last-modified", "cache-control", "content-encoding", "content-length"}


def public_page(view):
    """Mark a view as a public page: cached per catalogue version by PublicPageMiddleware."""
    view.public_page = True
    return view


def _is_public(view_func) -> bool:
    if getattr(view_func, "public_page", False):
        return True
    return getattr(getattr(view_func, "cls", None), "public_page", False)


@functools.cache
def code_version() -> str:
    """A hash of the code, templates and static manifest this process serves pages with."""
    root = Path(settings.BASE_DIR)
    digest = hashlib.sha256(str(ENTRY_FORMAT).encode())
    files = [*root.glob("templates/**/*.html"), *root.glob("tracker/**/*.py")]
    files += [*root.glob("tracker/**/templates/**/*.html")]
    manifest = Path(settings.STATIC_ROOT or root / "var" / "static") / "staticfiles.json"
    files += [manifest] if manifest.is_file() else []
    for path in sorted(set(files)):
        digest.update(str(path.relative_to(root) if path.is_relative_to(root) else path).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class Validators:
    """What identifies one public answer: its cache key, ETags and Last-Modified."""

    key: str
    gzip: bool
    last_modified: int  # a Unix time, whole seconds

    @property
    def etag(self) -> str:
        # The gzip body is another representation of the same page: a strong ETag of its own.
        return f'"{self.key}-gzip"' if self.gzip else f'"{self.key}"'

    def apply(self, response: HttpResponse, *, api: bool) -> None:
        response["ETag"] = self.etag
        response["Last-Modified"] = http_date(self.last_modified)
        patch_cache_control(response, public=True, max_age=MAX_AGE)
        patch_vary_headers(response, ["Accept", "Accept-Encoding"] if api else ["Accept-Encoding"])


_last_read: tuple[float, CatalogueStamp] | None = None  # this process's last stamp, and when


def _stamp() -> CatalogueStamp:
    """The catalogue's stamp: the one read less than PUBLIC_PAGE_STAMP_SECONDS ago in this
    process if that setting allows it (0, the default: read for every request), else read now."""
    global _last_read
    seconds = settings.PUBLIC_PAGE_STAMP_SECONDS
    if seconds and _last_read and time.monotonic() - _last_read[0] < seconds:
        return _last_read[1]
    stamp = _stamp_read()
    _last_read = (time.monotonic(), stamp)
    return stamp


def _stamp_read() -> CatalogueStamp:
    """The catalogue's stamp, read as the request's first query in place of Django's connection
    health check (CONN_HEALTH_CHECKS: a `SELECT 1` before each request's first query), so that
    a cached page costs one round trip to the database, not two. A connection the server
    dropped is replaced, as the check would replace it, and the stamp read again."""
    if (
        connection.connection is None
        or not connection.health_check_enabled
        or connection.health_check_done
        or connection.in_atomic_block
    ):
        return catalogue_stamp()
    connection.health_check_done = True
    try:
        return catalogue_stamp()
    except DatabaseError:
        if connection.is_usable():
            raise  # not the connection: a real error
        connection.close()
    return catalogue_stamp()


def _validators(request: HttpRequest, *, api: bool) -> Validators:
    stamp = _stamp()
    today = timezone.localdate()
    variant = request.headers.get("Accept", "") if api else ""
    key = hashlib.sha256(
        "\n".join(
            # the host too: pages link back to it (webcal:// links), and a site may have several
            [
                stamp.version,
                today.isoformat(),
                request.get_host(),
                request.get_full_path(),
                variant,
                code_version(),
            ]
        ).encode()
    ).hexdigest()[:40]
    start_of_today = timezone.make_aware(dt.datetime.combine(today, dt.time()))
    changed = max(filter(None, [stamp.last_modified, start_of_today]))
    accepts_gzip = bool(_ACCEPTS_GZIP.search(request.headers.get("Accept-Encoding", "")))
    return Validators(key=key, gzip=accepts_gzip, last_modified=int(changed.timestamp()))


@dataclass(frozen=True)
class Entry:
    """A rendered public page, kept per process under its key."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    gzip_body: bytes | None  # None when compressing does not make it smaller


def _entry(response: HttpResponse) -> Entry:
    body = response.content
    compressed = gzip.compress(body, compresslevel=6, mtime=0)
    headers = tuple((k, v) for k, v in response.items() if k.lower() not in _OWN_HEADERS)
    return Entry(
        status=response.status_code,
        headers=headers,
        body=body,
        gzip_body=compressed if len(compressed) < len(body) else None,
    )


def _respond(entry: Entry, validators: Validators, *, api: bool) -> HttpResponse:
    compressed = validators.gzip and entry.gzip_body is not None
    response = HttpResponse(entry.gzip_body if compressed else entry.body, status=entry.status)
    for name, value in entry.headers:
        response[name] = value
    if compressed:
        response["Content-Encoding"] = "gzip"
    validators.apply(response, api=api)
    return response


def _read_private_state(request: HttpRequest, response: HttpResponse) -> bool:
    """Whether answering read the session or the CSRF token, or set a cookie: then the body
    may hold one visitor's data (a CSRF token) and must not be shared."""
    session = getattr(request, "session", None)
    return bool(
        (session is not None and session.accessed)
        or request.META.get("CSRF_COOKIE_NEEDS_UPDATE")
        or response.cookies
    )


class PublicPageMiddleware:
    """Answers GET and HEAD of public pages from the catalogue stamp (see the module).

    It sits near the top of settings.MIDDLEWARE, right after WhiteNoise: a 304 or a cached
    page goes back before the session, CSRF, authentication, messages and CSP middleware run
    (the stored page keeps the headers they set when it was rendered), so that a hit costs
    little more than a static file. A miss goes down the whole stack as any request does.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        api = _public_view_kind(request)
        if api is None:
            return self.get_response(request)
        request.public_page = True
        validators = _validators(request, api=api)
        shell = HttpResponse()
        validators.apply(shell, api=api)
        answer = get_conditional_response(
            request, etag=validators.etag, last_modified=validators.last_modified, response=shell
        )
        if answer is not shell:
            return answer  # 304 Not Modified (or 412 to a failed If-Match)
        entry = caches[CACHE_ALIAS].get(validators.key)
        if entry is not None:
            return _respond(entry, validators, api=api)
        response = self.get_response(request)
        if response.status_code != 200 or response.streaming:
            return response  # errors (400, 404...) are neither cached nor validated
        if _read_private_state(request, response):
            patch_cache_control(response, private=True)
            return response
        entry = _entry(response)
        # A body read inside a transaction may show rows that are then rolled back (and
        # tests run in one): share only what was read from committed data.
        if not connection.in_atomic_block:
            caches[CACHE_ALIAS].set(validators.key, entry)
        return _respond(entry, validators, api=api)


def _public_view_kind(request: HttpRequest) -> bool | None:
    """For a GET or HEAD of a public page, whether its view is the API's (True: the Accept
    header picks the format) or a page's (False); None for any other request."""
    if request.method not in ("GET", "HEAD"):
        return None
    try:
        match = resolve(request.path_info, getattr(request, "urlconf", None))
    except Resolver404:
        return None
    if not _is_public(match.func):
        return None
    return hasattr(match.func, "cls")
