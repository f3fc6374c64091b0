"""A calm start: `make run`, its supervisor, bad settings, local mail and the admin account.

The start-up tests run the real thing in a copy of the project (its own var/: database, broker,
mail, secret key), on a pseudo-terminal where Ctrl-C is typed as a person types it, so that
what `make` does with it is part of the test.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import email
import fcntl
import io
import os
import pty
import re
import select
import shutil
import signal
import subprocess
import sys
import termios
import time
import zoneinfo
from pathlib import Path

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.management import call_command
from django.core.management.base import CommandError

from config.environment import BadSetting, Env, bad_setting
from tests.smtp import free_port
from tracker.outbox.mail_backends import FilePerMessageBackend

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
STAMP = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d( [+-]\d{4})?")
ANSI = re.compile(r"\x1b\[[0-9;]*m")
SQLITE_PASS_ONLY = pytest.mark.skipif(
    os.environ.get("JALON_TEST_DB") == "postgres",
    reason="`make run` uses its own SQLite database: the SQLite pass covers it",
)


def _settings_env(**extra: str) -> dict[str, str]:
    """A clean environment for a process that reads config.settings (nothing from pytest's)."""
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/tmp"),
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "SECRET_KEY": "start-test-secret-key-" + "x" * 40,
        "DATABASE_URL": "sqlite:///:memory:",
        **extra,
    }


# A bad setting is one line ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value", "line"),
    [
        ("DEBUG", "perhaps", "Bad setting DEBUG=perhaps: expected true or false"),
        ("SITE_URL", "not a url",
         'Bad setting SITE_URL="not a url": expected a URL such as https://jalon.example.org'),
        ("EMAIL_PORT", "x", "Bad setting EMAIL_PORT=x: expected a whole number"),
        ("TIME_ZONE", "Mars/Olympus",
         "Bad setting TIME_ZONE=Mars/Olympus: expected a time zone name such as Europe/Brussels"
         " or UTC"),
        ("LOG_LEVEL", "LOUD",
         "Bad setting LOG_LEVEL=LOUD: expected a log level: DEBUG, INFO, WARNING, ERROR or "
         "CRITICAL"),
        ("SUBSCRIBE_RATE", "ten",
         "Bad setting SUBSCRIBE_RATE=ten: expected a rate such as 10/hour (per second, minute, "
         "hour or day)"),
        ("EVIDENCE_MAX_BYTES", "0",
         "Bad setting EVIDENCE_MAX_BYTES=0: expected a whole number of at least 1"),
        ("DATABASE_URL", "postgres://jalon:hunter2@db:port/jalon",
         "Bad setting DATABASE_URL=postgres://jalon:***@db:port/jalon: expected a database URL "
         "such as postgres://user:password@host:5432/jalon or sqlite:////absolute/path.sqlite3"),
    ],
)  # fmt: skip
def test_a_bad_setting_stops_manage_py_with_one_line_naming_it(name, value, line):
    env = _settings_env(EMAIL_HOST="127.0.0.1", **{name: value})

    result = subprocess.run(
        [PYTHON, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip

    assert result.returncode == 1
    assert result.stderr == line + "\n"
    assert result.stdout == ""


def _procfile() -> dict[str, str]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if line.strip())


@pytest.mark.parametrize("service", ["web", "worker", "beat", "supervisor"])
def test_every_process_make_run_starts_stops_on_a_bad_setting_with_the_same_line(service):
    command = (
        f"{PYTHON} -m config.supervisor"
        if service == "supervisor"
        else _procfile()[service].replace(".venv/bin/", str(Path(PYTHON).parent) + "/")
    )
    env = _settings_env(DEBUG="perhaps", WEB_PORT=str(free_port()))

    result = subprocess.run(
        ["/bin/sh", "-c", f"exec {command}"], cwd=ROOT, env=env, capture_output=True,
        text=True, timeout=60,
    )  # fmt: skip

    assert result.returncode != 0
    assert result.stderr + result.stdout == "Bad setting DEBUG=perhaps: expected true or false\n"


def test_a_secret_is_never_quoted_in_the_line(monkeypatch):
    monkeypatch.setenv("EMAIL_HOST_PASSWORD", "hunter2")
    monkeypatch.setenv("REDIS_URL", "redis://:hunter2@redis:6379/zero")

    password = bad_setting("EMAIL_HOST_PASSWORD", "a text")
    url = bad_setting("REDIS_URL", "a URL")

    assert password.message == "Bad setting EMAIL_HOST_PASSWORD (value hidden): expected a text"
    assert url.message == "Bad setting REDIS_URL=redis://:***@redis:6379/zero: expected a URL"


def test_a_missing_required_variable_is_one_line_too(monkeypatch):
    monkeypatch.delenv("JALON_REQUIRED_FOR_THIS_TEST", raising=False)

    with pytest.raises(BadSetting) as raised:
        Env().int("JALON_REQUIRED_FOR_THIS_TEST")

    expected = "Missing setting JALON_REQUIRED_FOR_THIS_TEST: expected a whole number"
    assert str(raised.value) == expected
    assert raised.value.code == str(raised.value)  # what Python prints on its way out


# One email per file -------------------------------------------------------------------------


def test_three_messages_sent_on_one_connection_are_three_eml_files(settings, tmp_path):
    settings.EMAIL_BACKEND = "tracker.outbox.mail_backends.FilePerMessageBackend"
    settings.EMAIL_FILE_PATH = tmp_path / "mail"
    messages = [
        mail.EmailMultiAlternatives(
            f"Reminder {n}", f"Body {n}", "Jalon <reminders@localhost>", [f"p{n}@example.org"],
            alternatives=[(f"<p>Body {n}</p>", "text/html")],
        )
        for n in (1, 2, 3)
    ]  # fmt: skip

    with mail.get_connection() as connection:
        sent = connection.send_messages(messages)

    files = sorted((tmp_path / "mail").iterdir())
    assert sent == 3
    assert [f.suffix for f in files] == [".eml", ".eml", ".eml"]
    parsed = [email.message_from_bytes(f.read_bytes()) for f in files]
    assert [m["Subject"] for m in parsed] == ["Reminder 1", "Reminder 2", "Reminder 3"]
    assert [m["To"] for m in parsed] == ["p1@example.org", "p2@example.org", "p3@example.org"]
    assert [m.get_content_type() for m in parsed] == ["multipart/alternative"] * 3


def test_the_files_are_named_by_utc_time_so_that_they_sort_in_order(tmp_path):
    backend = FilePerMessageBackend(file_path=tmp_path)
    brussels = zoneinfo.ZoneInfo("Europe/Brussels")
    for hour, subject in [(9, "first"), (10, "second")]:
        with time_machine.travel(dt.datetime(2027, 1, 2, hour, 4, 5, tzinfo=brussels), tick=False):
            backend.send_messages([mail.EmailMessage(subject, "", to=["a@example.org"])])
    backend.send_messages([mail.EmailMessage("nobody", "", to=[])])  # no recipient: no file

    names = sorted(p.name for p in tmp_path.iterdir())

    assert len(names) == 2
    assert names[0].startswith("20270102-080405.000000Z-")
    assert names[1].startswith("20270102-090405.000000Z-")
    subjects = [email.message_from_bytes((tmp_path / n).read_bytes())["Subject"] for n in names]
    assert subjects == ["first", "second"]


def test_without_email_host_mail_goes_to_files_and_with_it_to_smtp(monkeypatch):
    import runpy

    monkeypatch.setenv("SECRET_KEY", "start-test-secret-key-" + "x" * 40)
    monkeypatch.delenv("EMAIL_HOST", raising=False)
    local = runpy.run_path(str(ROOT / "config" / "settings.py"))
    monkeypatch.setenv("EMAIL_HOST", "mail.example.org")
    smtp = runpy.run_path(str(ROOT / "config" / "settings.py"))

    assert local["EMAIL_BACKEND"] == "tracker.outbox.mail_backends.FilePerMessageBackend"
    assert local["EMAIL_FILE_PATH"] == ROOT / "var" / "mail"
    assert smtp["EMAIL_BACKEND"] == "django.core.mail.backends.smtp.EmailBackend"


# The admin account --------------------------------------------------------------------------


def _admin_ensure(monkeypatch, **variables: str) -> str:
    for name in ("USERNAME", "EMAIL", "PASSWORD"):
        monkeypatch.delenv(f"DJANGO_SUPERUSER_{name}", raising=False)
    for name, value in variables.items():
        monkeypatch.setenv(f"DJANGO_SUPERUSER_{name.upper()}", value)
    out = io.StringIO()
    call_command("admin_ensure", stdout=out, no_color=True)
    return out.getvalue()


@pytest.mark.django_db
def test_an_admin_is_created_from_a_username_and_password_without_an_email(monkeypatch):
    out = _admin_ensure(monkeypatch, username="alice", password="correct horse")

    alice = get_user_model().objects.get(username="alice")
    assert out == "Created the admin account 'alice' (without an email address).\n"
    assert (alice.is_superuser, alice.is_staff, alice.email) == (True, True, "")
    assert alice.check_password("correct horse")


@pytest.mark.django_db
def test_starting_again_leaves_the_admin_account_as_it_was(monkeypatch):
    _admin_ensure(monkeypatch, username="alice", password="first", email="alice@example.org")
    before = get_user_model().objects.values().get(username="alice")

    out = _admin_ensure(monkeypatch, username="alice", password="second", email="new@example.org")

    assert out == "Admin account 'alice' already exists.\n"
    assert get_user_model().objects.values().get(username="alice") == before
    assert get_user_model().objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"username": "alice"},
         "DJANGO_SUPERUSER_USERNAME=alice is set but DJANGO_SUPERUSER_PASSWORD is not: set both "
         "to create the admin account (DJANGO_SUPERUSER_EMAIL is optional)."),
        ({"username": "alice", "password": "pw", "email": "not-an-address"},
         "Cannot create the admin account from DJANGO_SUPERUSER_USERNAME=alice and "
         "DJANGO_SUPERUSER_EMAIL=not-an-address: Enter a valid email address."),
        ({"username": "al ice", "password": "pw"},
         "Cannot create the admin account from DJANGO_SUPERUSER_USERNAME=al ice: Enter a valid "
         "username. This value may contain only letters, numbers, and @/./+/-/_ characters."),
    ],
)  # fmt: skip
def test_admin_variables_that_cannot_work_say_so_in_one_line(monkeypatch, variables, message):
    with pytest.raises(CommandError) as raised:
        _admin_ensure(monkeypatch, **variables)

    assert str(raised.value) == message
    assert not get_user_model().objects.exists()


@pytest.mark.django_db
def test_without_an_admin_the_hint_names_the_command_that_works_here(monkeypatch):
    monkeypatch.delenv("MANAGE_COMMAND", raising=False)
    monkeypatch.setattr(sys, "executable", str(ROOT / ".venv" / "bin" / "python"))
    checkout = _admin_ensure(monkeypatch)
    monkeypatch.setenv("MANAGE_COMMAND", "docker compose exec web python manage.py")
    compose = _admin_ensure(monkeypatch)

    assert checkout == (
        "No admin account yet: create one with `.venv/bin/python manage.py createsuperuser`, "
        "or set DJANGO_SUPERUSER_USERNAME and DJANGO_SUPERUSER_PASSWORD (DJANGO_SUPERUSER_EMAIL "
        "optional) and start again.\n"
    )
    assert "`docker compose exec web python manage.py createsuperuser`" in compose


# `make run` and its supervisor --------------------------------------------------------------


def _project_copy(tmp_path: Path) -> Path:
    """What `make run` needs, copied, with the virtualenv linked: a var/ of its own."""
    tree = tmp_path / "jalon"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for folder in ("config", "tracker", "templates", "static", "fixtures"):
        shutil.copytree(ROOT / folder, tree / folder, ignore=ignore)
    for name in ("manage.py", "Makefile", "Procfile", "requirements.txt", "requirements-dev.txt"):
        shutil.copy(ROOT / name, tree / name)
    (tree / ".venv").symlink_to(ROOT / ".venv")
    return tree


def _make_run(tree: Path, **env: str) -> tuple[list[str], dict[str, str]]:
    # -o install: the virtualenv is the one the tests run in; `make run` must not reinstall it.
    return ["make", "--no-print-directory", "-C", str(tree), "-o", "install", "run"], {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/tmp"),
        "TERM": "dumb",
        **env,
    }


def _kill_session(session: int) -> None:
    """SIGKILL every process of a session (make's: the supervisor has a group of its own)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if int(fields[3]) == session:  # the session id, after state, ppid and group
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(stat.parent.name), signal.SIGKILL)


def _on_a_terminal(command, env, *, until: str, timeout: float) -> tuple[int, str, int]:
    """Runs `command` in the foreground of a new terminal; types Ctrl-C once `until` shows.

    Returns the exit status, everything the terminal showed, and where the Ctrl-C came.
    """
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        command, env=env, stdin=terminal, stdout=terminal, stderr=terminal,
        start_new_session=True, preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0),
    )  # fmt: skip
    os.close(terminal)
    output, typed_at, deadline = b"", -1, time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([controller], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(controller, 65536)
                except OSError:  # the terminal closed: everyone has exited
                    chunk = b""
                output += chunk
                if not chunk and process.poll() is not None:
                    break
            elif process.poll() is not None:
                break
            if typed_at < 0 and until.encode() in output:
                time.sleep(1)  # as a person would: the block has just been read
                typed_at = len(output)
                os.write(controller, b"\x03")
        else:
            pytest.fail(f"still running after {timeout} s:\n{output.decode(errors='replace')}")
    finally:
        _kill_session(process.pid)  # what a failure left: the services follow (PDEATHSIG)
        process.wait(timeout=10)
        os.close(controller)
    text = ANSI.sub("", output.decode(errors="replace").replace("\r\n", "\n"))
    typed = ANSI.sub("", output[:typed_at].decode(errors="replace").replace("\r\n", "\n"))
    return process.returncode, text, len(typed) if typed_at >= 0 else -1


@SQLITE_PASS_ONLY
def test_make_run_says_where_to_go_once_up_and_ctrl_c_stops_it_cleanly(tmp_path):
    # Given a fresh copy of the project and a free port
    tree = _project_copy(tmp_path)
    port = free_port()
    command, env = _make_run(tree, WEB_PORT=str(port))

    # When `make run` starts, and Ctrl-C is typed once the ready block shows
    status, output, typed_at = _on_a_terminal(command, env, until="Ctrl-C stops", timeout=120)

    # Then make exits 0 after a clean stop: no error, no SIGKILL, no traceback
    assert status == 0, output
    for noise in ("ERROR", "SIGKILL", "Traceback", "make: ***", "Error 130"):
        assert noise not in output, output
    before, after = output[:typed_at], output[typed_at:]
    assert after.rstrip().splitlines()[-1].endswith(" INFO stopped cleanly"), output
    # The ready block came after the web listened and the worker was ready, and it is the last
    # thing start-up printed: the address, the admin, how to get one, where mail goes
    block = before[before.index("\n  Jalon is up.\n") :]
    assert before.index(f"Listening at: http://127.0.0.1:{port}") < before.index(block)
    assert before.index("INFO celery@") < before.index(block)
    assert [line.strip() for line in block.strip().splitlines()] == [
        "Jalon is up.",
        f"Site     http://127.0.0.1:{port}/",
        f"Admin    http://127.0.0.1:{port}/admin/",
        "No admin account yet: create one with `.venv/bin/python manage.py createsuperuser`, or",
        "set DJANGO_SUPERUSER_USERNAME and DJANGO_SUPERUSER_PASSWORD (DJANGO_SUPERUSER_EMAIL",
        "optional) and start again.",
        "Mail     written to var/mail/, one .eml file per message (set EMAIL_HOST to send by SMTP)",
        "Ctrl-C stops web, worker and beat.",
    ], block
    # Every log line of every process gives its time the same way, in TIME_ZONE, zone shown
    offset = dt.datetime.now(zoneinfo.ZoneInfo("Europe/Brussels")).strftime("%z")
    stamps = [m.group(0) for m in STAMP.finditer(output)]
    assert len(stamps) >= 12
    assert all(stamp.endswith(f" {offset}") for stamp in stamps), stamps
    for service in ("jalon", "web", "worker", "beat"):
        assert re.search(rf"^{service} +\| \S+ \S+ {re.escape(offset)} INFO ", output, re.M)


@SQLITE_PASS_ONLY
def test_make_run_with_a_bad_setting_prints_its_line_and_starts_nothing(tmp_path):
    tree = _project_copy(tmp_path)
    command, env = _make_run(tree, WEB_PORT=str(free_port()), DEBUG="perhaps")

    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)

    assert result.returncode == 2  # make's status when a command fails
    line, make_says = result.stderr.splitlines()
    assert line == "Bad setting DEBUG=perhaps: expected true or false"
    assert re.fullmatch(r"make: \*\*\* \[Makefile:\d+: run\] Error 1", make_says)
    assert "jalon |" not in result.stdout
    assert not (tree / "var" / "jalon.sqlite3").exists()


@pytest.fixture
def supervise(tmp_path):
    """Starts the supervisor on a Procfile of small Python programs (no web, no worker to wait
    for); whatever a failed test leaves running is killed (its programs follow: PDEATHSIG)."""
    started: list[subprocess.Popen] = []

    def start(procfile: str, *, grace: float = 30.0) -> subprocess.Popen:
        path = tmp_path / "Procfile"
        path.write_text(procfile.replace("PYTHON", PYTHON))
        env = _settings_env(DATABASE_URL=f"sqlite:///{tmp_path / 'empty.sqlite3'}")
        command = [
            PYTHON,
            "-m",
            "config.supervisor",
            "--procfile",
            str(path),
            "--grace",
            str(grace),
        ]
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
        process.stdout.close()


def _read_until(process: subprocess.Popen, text: str | None, timeout: float = 30) -> str:
    """What the process printed until `text` shows (None: until it exits and closes)."""
    seen, deadline = b"", time.monotonic() + timeout
    while text is None or text.encode() not in seen:
        assert time.monotonic() < deadline, seen.decode()
        if select.select([process.stdout], [], [], 0.1)[0]:
            chunk = os.read(process.stdout.fileno(), 65536)
            if not chunk and text is None:
                process.wait(timeout=10)
                break
            seen += chunk
    return seen.decode()


CALM = "PYTHON -c 'import signal,sys,time; signal.signal(signal.SIGTERM, lambda *a: sys.exit(0)); "
CALM += 'print("calm up", flush=True); time.sleep(60)\''


def test_a_process_that_stops_on_its_own_stops_the_others_and_the_status_says_so(supervise):
    crasher = "PYTHON -c 'import time,sys; time.sleep(1); sys.exit(3)'"
    supervisor = supervise(f"calm: {CALM}\ncrasher: {crasher}\n")

    output = _read_until(supervisor, None)

    assert supervisor.returncode == 1
    assert "ERROR crasher exited on its own (code 3)" in output
    assert "INFO crasher stopped: stopping calm" in output
    assert "stopped cleanly" not in output


def test_a_process_that_ignores_the_request_to_stop_is_killed_after_the_grace_period(supervise):
    stubborn = "PYTHON -c 'import signal,time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
    stubborn += 'print("stubborn up", flush=True); time.sleep(60)\''
    supervisor = supervise(f"calm: {CALM}\nstubborn: {stubborn}\n", grace=1)
    output = _read_until(supervisor, "| stubborn up")  # its SIGTERM is ignored from now on
    if "| calm up" not in output:
        output += _read_until(supervisor, "| calm up")
    started = time.monotonic()

    supervisor.send_signal(signal.SIGINT)
    output += _read_until(supervisor, None)

    assert supervisor.returncode == 1, output
    assert time.monotonic() - started < 10
    assert "WARNING still running 1 s after the request to stop: killed stubborn" in output
    assert "calm exited" not in output  # calm stopped when asked


def test_ctrl_c_twice_kills_what_is_still_stopping_at_once(supervise):
    stubborn = "PYTHON -c 'import signal,time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
    stubborn += 'print("stubborn up", flush=True); time.sleep(60)\''
    supervisor = supervise(f"stubborn: {stubborn}\n", grace=30)
    output = _read_until(supervisor, "| stubborn up")
    started = time.monotonic()

    supervisor.send_signal(signal.SIGINT)
    output += _read_until(supervisor, "Ctrl-C again")
    supervisor.send_signal(signal.SIGINT)
    output += _read_until(supervisor, None)

    assert supervisor.returncode == 1
    assert time.monotonic() - started < 5  # not the 30 s of the grace period
    assert "WARNING asked twice: killed stubborn" in output


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in state  # a zombie has exited; only its parent's wait is missing


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_the_processes_stop_when_the_supervisor_itself_is_killed(supervise):
    calm = "PYTHON -c 'import os,signal,sys,time; signal.signal(signal.SIGTERM, lambda *a: "
    calm += 'sys.exit(0)); print("calm pid", os.getpid(), flush=True); time.sleep(60)\''
    supervisor = supervise(f"calm: {calm}\n")
    output = _read_until(supervisor, "| calm pid ")
    output += _read_until(supervisor, "\n") if not output.endswith("\n") else ""
    pid = int(re.search(r"\| calm pid (\d+)", output).group(1))

    supervisor.kill()
    supervisor.wait(timeout=10)
    deadline = time.monotonic() + 10
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)

    assert not _alive(pid)
