"""Project-level checks that belong in every test run."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command

from tests.conftest import require

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION_ENV = {
    "PATH": os.environ.get("PATH", ""),
    "DJANGO_SETTINGS_MODULE": "config.settings",
    "DEBUG": "false",
    "SECURE": "true",
    "SECRET_KEY": "x" * 64 + "production-like-secret-for-the-deploy-check",
    "ALLOWED_HOSTS": "jalon.example.org",
    "DATABASE_URL": "sqlite:///:memory:",
}


def _manage(*args, env):
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_system_checks_pass():
    call_command("check", fail_level="WARNING")


@pytest.mark.django_db
def test_models_and_migrations_agree():
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


def test_the_deploy_check_is_clean_in_production_settings():
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)

    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize(
    ("name", "value"), [("DEBUG", "perhaps"), ("SITE_URL", "not a url"), ("EMAIL_PORT", "x")]
)
def test_a_malformed_setting_stops_start_up_with_its_name(name, value):
    env = {**PRODUCTION_ENV, "EMAIL_HOST": "127.0.0.1", name: value}

    result = _manage("check", env=env)

    assert result.returncode != 0
    assert result.stderr.startswith(f"Bad setting {name}=")
    assert "Traceback" not in result.stderr


def _compose_command() -> list[str] | None:
    docker = shutil.which("docker")
    if (
        docker
        and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0
    ):
        return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    return [legacy] if legacy else None


def test_the_docker_compose_file_validates():
    command = _compose_command()
    require(command is not None, "neither `docker compose` nor docker-compose is installed")

    result = subprocess.run([*command, "config", "--quiet"], cwd=ROOT, capture_output=True,
                            text=True, timeout=60)  # fmt: skip

    assert result.returncode == 0, result.stderr


def _lint_imports(tree: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(Path(sys.executable).with_name("lint-imports")), "--no-cache"],
        cwd=tree, env={**os.environ, "PYTHONPATH": str(tree)},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_the_layers_hold_and_an_upward_import_breaks_them(tmp_path):
    # Given a copy of the apps and their contracts, where the catalogue imports the reminders
    shutil.copytree(ROOT / "tracker", tmp_path / "tracker", ignore=shutil.ignore_patterns("*.pyc"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    services = tmp_path / "tracker" / "catalogue" / "services.py"
    services.write_text(services.read_text() + "\nfrom tracker.reminders import models  # noqa\n")

    broken = _lint_imports(tmp_path)
    kept = _lint_imports(ROOT)

    assert kept.returncode == 0, kept.stdout
    assert broken.returncode == 1
    assert "tracker.catalogue.services -> tracker.reminders.models" in broken.stdout
