"""Public pages against a static file, from the same gunicorn: cached pages near static speed.

Target (../shared/PRODUCT.md, issue 13): public catalogue pages answer conditional requests
with 304 and serve cached responses at least half as fast as a static file from the same
server.

In a scratch PostgreSQL database (created, migrated and dropped by this script) with the real
catalogue loaded (`manage.py catalogue_load`, fixtures/), after `collectstatic` (into var/static,
as `make run` does), gunicorn starts as the Procfile starts it (config/gunicorn.conf.py: 2 sync
workers, access log on), DEBUG off. Then, for each target, `--clients` threads send requests
for `--seconds`, each on a new connection (gunicorn's sync workers close it after the answer),
as a browser would ask (`Accept-Encoding: gzip`); the rate is the answers received per second,
every answer's status checked. The targets run in interleaved rounds (the order rotates each
round) so that the machine's load hits all of them alike:

- static: the stylesheet (WhiteNoise, its precompressed gzip file);
- timeline: `/`; milestone: the page of the milestone with the most amendments;
- API list: `/api/v1/milestones/`, every milestone with its change log;
- timeline 304: `/` with the `If-None-Match` of its last answer.

It prints each target's median rate and the median of its per-round ratio to the static file
(`ratio timeline / static: 0.62`). Then, for scale, the timeline when nothing is cached (a new
query string each request: every request renders, as every request did before issue 13).
The client is in this process (Python threads): on a small machine it takes CPU from the
server too, the same for every target.

Usage, from the repository root:

    .venv/bin/python bench/web.py                       # 5 rounds of 3 s, 16 clients
    .venv/bin/python bench/web.py --rounds 9 --clients 32
    .venv/bin/python bench/web.py --stamp-seconds 1      # a process reuses its stamp 1 s
    .venv/bin/python bench/web.py --smoke               # seconds (CI)
"""

from __future__ import annotations

import argparse
import io
import itertools
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass

from support import ROOT, django_setup, scratch_database, stop_on_sigterm

FULL = {"rounds": 5, "seconds": 3.0, "clients": 16}
SMOKE = {"rounds": 1, "seconds": 0.5, "clients": 4}
WARM_UP_REQUESTS = 20  # per target: each gunicorn worker renders and keeps its pages
TARGET_RATIO = 0.5


@dataclass
class Target:
    name: str
    path: str
    status: int = 200
    headers: dict[str, str] | None = None
    unique: bool = False  # a new query string on every request: never cached


def _request_bytes(target: Target, host: str, serial: int) -> bytes:
    path = f"{target.path}?n={serial}" if target.unique else target.path
    lines = [
        f"GET {path} HTTP/1.1",
        f"Host: {host}",
        "Accept: */*",
        "Accept-Encoding: gzip",
        "Connection: close",
        *(f"{name}: {value}" for name, value in (target.headers or {}).items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def fetch(address: tuple[str, int], request: bytes) -> tuple[int, bytes]:
    """One request on a new connection; the status and the raw answer (read to the close)."""
    with socket.create_connection(address, timeout=30) as connection:
        connection.sendall(request)
        chunks = []
        while chunk := connection.recv(65536):
            chunks.append(chunk)
    answer = b"".join(chunks)
    return int(answer[9:12]), answer


def header(answer: bytes, name: str) -> str | None:
    head = answer.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    for line in head.split("\r\n")[1:]:
        key, _, value = line.partition(":")
        if key.strip().lower() == name.lower():
            return value.strip()
    return None


def rate(address: tuple[str, int], target: Target, *, seconds: float, clients: int) -> float:
    """Answers per second with `clients` threads asking for `seconds`; fails on a bad status."""
    host = f"{address[0]}:{address[1]}"
    serials = itertools.count()
    counts = [0] * clients
    errors: list[str] = []
    deadline = time.perf_counter() + seconds

    def client(index: int) -> None:
        while time.perf_counter() < deadline and not errors:
            try:
                status, _ = fetch(address, _request_bytes(target, host, next(serials)))
            except OSError as error:
                errors.append(f"{target.name}: {error}")
                return
            if status != target.status:
                errors.append(f"{target.name}: status {status}, expected {target.status}")
                return
            counts[index] += 1

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise RuntimeError(errors[0])
    return sum(counts) / elapsed


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def gunicorn_start(database_url: str, port: int, stamp_seconds: float) -> subprocess.Popen:
    """gunicorn as the Procfile's `web` line runs it, on this database, DEBUG off."""
    environ = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": database_url,
        "DEBUG": "false",
        "PUBLIC_PAGE_STAMP_SECONDS": str(stamp_seconds),
    }
    command = [
        str(ROOT / ".venv" / "bin" / "gunicorn"),
        "config.wsgi",
        "--config",
        "config/gunicorn.conf.py",
        "--bind",
        f"127.0.0.1:{port}",
        "--forwarded-allow-ips=127.0.0.1",
    ]
    if not os.path.exists(command[0]):
        command[0] = "gunicorn"  # a virtualenv elsewhere: the one on PATH
    # Its log (an access line per request) goes to a file: a pipe nobody reads would fill up
    # and block the workers.
    log = tempfile.TemporaryFile()  # noqa: SIM115 (closed by gunicorn_stop)
    server = subprocess.Popen(command, cwd=ROOT, env=environ, stdout=log, stderr=log)
    server.log = log
    address = ("127.0.0.1", port)
    for _ in range(300):
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn exited:\n{gunicorn_log(server)}")
        try:
            if fetch(address, _request_bytes(Target("up", "/"), f"127.0.0.1:{port}", 0))[0]:
                return server
        except OSError:
            time.sleep(0.1)
    server.terminate()
    raise RuntimeError("gunicorn did not answer within 30 s")


def gunicorn_log(server: subprocess.Popen, lines: int = 20) -> str:
    """The end of gunicorn's log, access lines left out."""
    server.log.seek(0)
    text = server.log.read().decode(errors="replace").splitlines()
    return "\n".join([line for line in text if '"GET ' not in line][-lines:])


def gunicorn_stop(server: subprocess.Popen) -> None:
    server.terminate()
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()
    server.log.close()


def catalogue_prepare() -> tuple[str, str, int]:
    """Load the real catalogue, collect the static files; the stylesheet's URL, a milestone
    page's path and the number of milestones."""
    from django.core.management import call_command
    from django.db import connections
    from django.db.models import Count
    from django.templatetags.static import static

    from tracker.catalogue.models import Milestone

    call_command("createcachetable", verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    call_command("catalogue_load", verbosity=0, stdout=io.StringIO())
    milestone = (
        Milestone.objects.annotate(moves=Count("amendments")).order_by("-moves", "key").first()
    )
    count = Milestone.objects.count()
    css = static("web/jalon.css")
    connections.close_all()
    return css, milestone.get_absolute_url(), count


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f} on {os.cpu_count()} cores"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, help="interleaved rounds (default 5)")
    parser.add_argument("--seconds", type=float, help="seconds per target per round (default 3)")
    parser.add_argument("--clients", type=int, help="concurrent clients (default 16)")
    parser.add_argument(
        "--stamp-seconds",
        type=float,
        default=0.0,
        help="PUBLIC_PAGE_STAMP_SECONDS for the server (default 0: the stamp read per request)",
    )
    parser.add_argument("--smoke", action="store_true", help="1 short round (for CI)")
    args = parser.parse_args()
    defaults = SMOKE if args.smoke else FULL
    rounds = args.rounds or defaults["rounds"]
    seconds = args.seconds or defaults["seconds"]
    clients = args.clients or defaults["clients"]
    stop_on_sigterm()

    with scratch_database("web") as database_url:
        django_setup(database_url, DEBUG="false")
        css, milestone_path, milestones = catalogue_prepare()
        port = _free_port()
        address = ("127.0.0.1", port)
        server = gunicorn_start(database_url, port, args.stamp_seconds)
        try:
            print(
                f"gunicorn as in the Procfile (2 sync workers), DEBUG off, {milestones} "
                f"milestones, PUBLIC_PAGE_STAMP_SECONDS={args.stamp_seconds:g}; {clients} "
                f"clients, {rounds} rounds of {seconds:g} s per target"
            )
            print(f"before: {load()}")
            _, answer = fetch(address, _request_bytes(Target("etag", "/"), f"127.0.0.1:{port}", 0))
            etag = header(answer, "ETag")
            if not etag:
                raise RuntimeError("the timeline sent no ETag")
            targets = [
                Target("static", css),
                Target("timeline", "/"),
                Target("milestone", milestone_path),
                Target("API list", "/api/v1/milestones/"),
                Target("timeline 304", "/", status=304, headers={"If-None-Match": etag}),
            ]
            for target in targets:  # every worker renders and keeps its pages first
                rate(address, target, seconds=0.2, clients=2)
                for serial in range(WARM_UP_REQUESTS):
                    request = _request_bytes(target, f"127.0.0.1:{port}", serial)
                    if (status := fetch(address, request)[0]) != target.status:
                        raise RuntimeError(f"{target.name}: status {status} at warm-up")
            rates: dict[str, list[float]] = {t.name: [] for t in targets}
            for n in range(rounds):
                shift = n % len(targets)
                for target in targets[shift:] + targets[:shift]:
                    rates[target.name].append(
                        rate(address, target, seconds=seconds, clients=clients)
                    )
            cold = Target("timeline, nothing cached", "/", unique=True)
            cold_rate = rate(address, cold, seconds=seconds, clients=clients)
            static = rates["static"]
            print()
            for target in targets:
                values = rates[target.name]
                spread = f"{min(values):,.0f}-{max(values):,.0f}" if len(values) > 1 else ""
                print(
                    f"{target.name:>14}: {statistics.median(values):8,.0f} req/s "
                    f"(median of {len(values)} rounds{', ' + spread if spread else ''})"
                )
            print(f"{cold.name}: {cold_rate:,.0f} req/s (for scale, after the rounds)")
            print(f"after: {load()}")
            print()
            results = {}
            for target in targets[1:]:
                pairs = zip(rates[target.name], static, strict=True)
                ratios = [page / base for page, base in pairs]
                results[target.name] = statistics.median(ratios)
                print(f"ratio {target.name} / static: {results[target.name]:.2f}")
            below = [name for name in ("timeline", "API list") if results[name] < TARGET_RATIO]
            if below and not args.smoke:
                print(f"below the {TARGET_RATIO} target: {', '.join(below)}")
        except Exception:
            print(f"gunicorn's log ends:\n{gunicorn_log(server)}", file=sys.stderr)
            raise
        finally:
            gunicorn_stop(server)
    return 0


if __name__ == "__main__":
    sys.exit(main())
