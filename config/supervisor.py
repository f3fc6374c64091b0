"""`make run`'s supervisor: starts the Procfile's processes, says when Jalon is up, stops on Ctrl-C.

    python -m config.supervisor [--procfile Procfile] [--url http://127.0.0.1:8000/]

What it does that honcho did not:

- Each process runs in a session of its own, so a Ctrl-C in the terminal reaches the supervisor
  alone. It then asks each process to stop the way that process stops cleanly (SIGTERM:
  gunicorn lets requests under way finish, the Celery worker its tasks), instead of every
  process, gunicorn worker and pool child getting SIGINT at once and SIGKILL five seconds later.
- It takes the terminal's foreground for itself, so `make` does not get the Ctrl-C either, and
  `make run` ends with the supervisor's status: 0 after a clean stop, not "Error 130".
- It prints the ready block (address, admin, where mail goes) once the web answers and the
  worker replies to a ping, so that it is the last thing start-up prints, not lost above it.
- Its own lines use the format and time zone of everything else (settings.LOGGING).

A second Ctrl-C, or a process still running 30 seconds (--grace) after the first, is killed;
the exit status is then 1, as it is when a process stops on its own.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import logging
import os
import re
import selectors
import signal
import subprocess
import sys
import textwrap
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

SUPERVISOR = "jalon"
NAME = re.compile(r"[A-Za-z0-9_-]+")
STILL_WAITING_AFTER = 60.0  # seconds before saying which service is not up yet

if sys.platform.startswith("linux"):
    _libc = ctypes.CDLL(None, use_errno=True)
    _PR_SET_PDEATHSIG = 1

    def _in_child() -> None:
        """Should the supervisor itself be killed, its processes get SIGTERM, not orphaned."""
        _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)

else:
    _in_child = None


@dataclass
class Service:
    """One Procfile line and, once started, its process."""

    name: str
    command: str
    process: subprocess.Popen | None = None
    pending: bytes = b""
    reported: bool = False


def procfile_read(path: Path) -> list[Service]:
    """The `name: command` lines of a Procfile (blank lines and # comments skipped)."""
    services = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, colon, command = line.partition(":")
        if not colon or not NAME.fullmatch(name.strip()) or not command.strip():
            raise SystemExit(f"{path}:{number}: expected `name: command`, got {line!r}")
        services.append(Service(name=name.strip(), command=command.strip()))
    if not services:
        raise SystemExit(f"{path}: no `name: command` line")
    return services


class Terminal:
    """The terminal's foreground, taken for the supervisor alone and given back at the end.

    Ctrl-C signals the terminal's foreground process group: `make`, the shell it runs and us.
    Alone in a group of our own that holds the foreground, we are the only one to hear it.
    Nothing happens without a terminal (tests, CI, `make run &`).
    """

    def __init__(self) -> None:
        self.fd: int | None = None
        self.previous: int | None = None

    def take(self) -> None:
        try:
            fd = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
        except OSError:
            return
        try:
            if os.tcgetpgrp(fd) != os.getpgrp():
                os.close(fd)  # started in the background: leave the terminal alone
                return
            previous = os.getpgrp()
            os.setpgid(0, 0)
            self._set_foreground(fd, os.getpgrp())
        except OSError:
            os.close(fd)
            return
        self.fd, self.previous = fd, previous

    def give_back(self) -> None:
        if self.fd is None:
            return
        with contextlib.suppress(OSError):
            self._set_foreground(self.fd, self.previous)
        os.close(self.fd)
        self.fd = None

    @staticmethod
    def _set_foreground(fd: int, group: int) -> None:
        # A background group that sets the foreground gets SIGTTOU unless it ignores it.
        previous = signal.signal(signal.SIGTTOU, signal.SIG_IGN)
        try:
            os.tcsetpgrp(fd, group)
        finally:
            signal.signal(signal.SIGTTOU, previous)


class Supervisor:
    """Runs the services until a signal asks it to stop, or one of them stops on its own."""

    def __init__(self, services: list[Service], *, url: str, grace: float, out=None) -> None:
        from django.conf import settings

        self.services = services
        self.url = url
        self.grace = grace
        self.out = out or sys.stdout.buffer
        self.width = max(len(name) for name in [SUPERVISOR, *(s.name for s in services)])
        self.formatter = logging.Formatter(settings.LOG_FORMAT, settings.LOG_DATE_FORMAT)
        self.selector = selectors.DefaultSelector()
        self.signals: list[str] = []
        self.stop_deadline: float | None = None
        self.killed: list[str] = []
        self.failed: list[str] = []
        self.ready = threading.Event()
        self.ready_block = ""
        self.closing = threading.Event()
        self.writing = threading.Lock()  # the ready thread may say something too

    # Output --------------------------------------------------------------------------------

    def _write(self, name: str, line: bytes) -> None:
        self._print(f"{name:<{self.width}} | ".encode() + line + b"\n")

    def _print(self, text: bytes) -> None:
        with self.writing, contextlib.suppress(BrokenPipeError, ValueError):
            self.out.write(text)
            self.out.flush()

    def say(self, text: str, level: int = logging.INFO) -> None:
        record = logging.LogRecord(SUPERVISOR, level, __file__, 0, text, None, None)
        self._write(SUPERVISOR, self.formatter.format(record).encode())

    def _pump(self, timeout: float) -> None:
        """Copy what the services printed, line by line, each line under its service's name."""
        for key, _ in self.selector.select(timeout):
            service = key.data
            try:
                data = os.read(key.fd, 65536)
            except (BlockingIOError, InterruptedError):
                continue
            if not data:
                self.selector.unregister(key.fileobj)
                if service.pending:
                    self._write(service.name, service.pending)
                    service.pending = b""
                continue
            *lines, service.pending = (service.pending + data).split(b"\n")
            for line in lines:
                if line.strip():  # blank lines (around Celery's warnings) say nothing
                    self._write(service.name, line.rstrip(b"\r"))

    # Processes -----------------------------------------------------------------------------

    def start(self) -> None:
        for service in self.services:
            service.process = subprocess.Popen(  # noqa: S603 (the Procfile is ours)
                ["/bin/sh", "-c", f"exec {service.command}"],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # no terminal: Ctrl-C is the supervisor's to pass on
                preexec_fn=_in_child,  # before the ready thread starts: no thread to fork
            )
            os.set_blocking(service.process.stdout.fileno(), False)
            self.selector.register(service.process.stdout, selectors.EVENT_READ, service)
            self.say(f"{service.name} started (pid {service.process.pid})")

    def _running(self) -> list[Service]:
        return [s for s in self.services if s.process and s.process.poll() is None]

    def stop(self, reason: str) -> None:
        """Ask every service to stop cleanly (SIGTERM to its main process only)."""
        if self.stop_deadline is not None:
            return
        self.closing.set()
        if reason == "Ctrl-C" and self.out.isatty():
            self._print(b"\n")  # past the ^C the terminal echoed
        names = ", ".join(s.name for s in self._running())
        self.say(f"{reason}: stopping {names} (Ctrl-C again to kill them at once)")
        self.stop_deadline = time.monotonic() + self.grace
        for service in self._running():
            with contextlib.suppress(ProcessLookupError):
                service.process.send_signal(signal.SIGTERM)

    def kill(self, reason: str) -> None:
        """SIGKILL what is still running, its whole process group (gunicorn's workers, ...)."""
        targets = [s for s in self._running() if s.name not in self.killed]
        for service in targets:
            self.killed.append(service.name)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(service.process.pid, signal.SIGKILL)
        if targets:
            self.say(f"{reason}: killed {', '.join(s.name for s in targets)}", logging.WARNING)

    def _on_signal(self, signum, frame) -> None:
        self.signals.append(signal.Signals(signum).name)

    # Readiness -----------------------------------------------------------------------------

    def _web_answers(self) -> bool:
        """Any HTTP answer counts (a redirect to HTTPS, a 400 for a host not allowed)."""

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args, **kwargs):
                return None

        opener = urllib.request.build_opener(NoRedirect)
        request = urllib.request.Request(  # noqa: S310 (checked: http or https, in main())
            self.url, method="HEAD", headers={"User-Agent": "jalon-supervisor (ready check)"}
        )
        try:
            opener.open(request, timeout=2).close()
        except urllib.error.HTTPError:
            return True
        except (OSError, ValueError):
            return False
        return True

    @staticmethod
    def _worker_replies() -> bool:
        from config.celery_app import app

        try:
            return bool(app.control.ping(timeout=1.0, limit=1))
        except Exception:  # the broker is not there yet (Redis starting): ask again
            return False

    def _wait_until_ready(self) -> None:
        """Runs in a thread: the web answers, the worker replies, beat is still running."""
        from django.db import connections

        names = {s.name for s in self.services}
        checks = {"web": self._web_answers, "worker": self._worker_replies}
        waiting = {name: check for name, check in checks.items() if name in names}
        started = time.monotonic()
        said_still_waiting = False
        try:
            while waiting and not self.closing.is_set():
                for name, check in list(waiting.items()):
                    if check():
                        del waiting[name]
                late = time.monotonic() - started > STILL_WAITING_AFTER
                if waiting and late and not said_still_waiting:
                    self.say(f"still waiting for: {', '.join(waiting)}", logging.WARNING)
                    said_still_waiting = True
                if waiting:
                    self.closing.wait(0.5)
            if not self.closing.is_set():
                self.ready_block = ready_block(self.url, [s.name for s in self.services])
                self.ready.set()
        finally:
            connections.close_all()

    # The loop ------------------------------------------------------------------------------

    def run(self) -> int:
        handled = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
        for signum in handled:
            signal.signal(signum, self._on_signal)
        signal.signal(signal.SIGTSTP, signal.SIG_IGN)  # Ctrl-Z would stop us, not them
        self.start()
        threading.Thread(target=self._wait_until_ready, name="ready", daemon=True).start()
        block_printed = False
        handled_signals = 0
        while True:
            self._pump(0.2)
            all_running = all(s.process.poll() is None for s in self.services)
            if self.ready.is_set() and not block_printed and all_running:
                self._print(self.ready_block.encode())
                block_printed = True
            if len(self.signals) > handled_signals:
                handled_signals = len(self.signals)
                if self.stop_deadline is None:
                    reason = "Ctrl-C" if self.signals[-1] == "SIGINT" else self.signals[-1]
                    self.stop(reason)
                else:
                    self.kill("asked twice")
            for service in self.services:
                code = service.process.poll()
                if code is None or service.reported:
                    continue
                service.reported = True
                if self.stop_deadline is None:
                    self.failed.append(service.name)
                    self.say(f"{service.name} exited on its own (code {code})", logging.ERROR)
                    self.stop(f"{service.name} stopped")
                elif code not in (0, -signal.SIGTERM) and service.name not in self.killed:
                    self.failed.append(service.name)
                    self.say(f"{service.name} exited with code {code}", logging.WARNING)
            if not self._running():
                break
            if self.stop_deadline is not None and time.monotonic() > self.stop_deadline:
                self.kill(f"still running {self.grace:g} s after the request to stop")
        self.closing.set()
        drain_until = time.monotonic() + 2
        while self.selector.get_map() and time.monotonic() < drain_until:
            self._pump(0.1)  # what the last processes printed, after they exited
        if self.failed or self.killed:
            return 1
        self.say("stopped cleanly")
        return 0


def _mail_destination() -> str:
    from django.conf import settings

    if settings.EMAIL_BACKEND == "tracker.outbox.mail_backends.FilePerMessageBackend":
        folder = Path(settings.EMAIL_FILE_PATH)
        with contextlib.suppress(ValueError):
            folder = folder.relative_to(settings.BASE_DIR)
        return f"written to {folder}/, one .eml file per message (set EMAIL_HOST to send by SMTP)"
    if settings.EMAIL_BACKEND == "django.core.mail.backends.smtp.EmailBackend":
        return f"sent by SMTP through {settings.EMAIL_HOST}:{settings.EMAIL_PORT}"
    return f"handled by {settings.EMAIL_BACKEND}"


def ready_block(url: str, names: list[str]) -> str:
    """The lines a person needs once Jalon is up: where, the admin, where mail goes."""
    from django.db import DatabaseError

    from tracker.web.admin_account import admin_create_hint, admin_usernames

    admin_url = url.rstrip("/") + "/admin/"
    try:
        admins = admin_usernames()
    except DatabaseError as error:
        admins = [f"? (the accounts could not be read: {error})"]
    if admins:
        admin = f"{admin_url}  (sign in as {', '.join(admins)})"
    else:
        hint = textwrap.wrap(
            f"No admin account yet: {admin_create_hint()}.", width=88, break_on_hyphens=False
        )
        admin = "\n".join([admin_url, *(f"{'':13}{line}" for line in hint)])
    services = ", ".join(names[:-1]) + f" and {names[-1]}" if len(names) > 1 else names[0]
    return (
        "\n"
        "  Jalon is up.\n"
        f"    Site     {url}\n"
        f"    Admin    {admin}\n"
        f"    Mail     {_mail_destination()}\n"
        f"  Ctrl-C stops {services}.\n"
        "\n"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--procfile", type=Path, default=Path("Procfile"))
    port = os.environ.get("WEB_PORT", "8000")
    parser.add_argument("--url", default=f"http://127.0.0.1:{port}/", help="where web answers")
    parser.add_argument("--grace", type=float, default=30.0, help="seconds to stop cleanly")
    args = parser.parse_args(argv)
    if not args.url.startswith(("http://", "https://")):
        parser.error(f"--url {args.url}: expected an http:// or https:// address")

    # The settings first: a bad one stops here with its one line, before anything starts, and
    # the process's time zone becomes TIME_ZONE (Django sets TZ), which the services inherit.
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    services = procfile_read(args.procfile)
    terminal = Terminal()
    terminal.take()
    try:
        return Supervisor(services, url=args.url, grace=args.grace).run()
    finally:
        terminal.give_back()


if __name__ == "__main__":
    sys.exit(main())
