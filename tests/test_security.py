"""Production hardening: the Content-Security-Policy, the compose file and the image, the
secret key, HSTS preload, the favicon and the admin's name."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from django.urls import reverse

from tests.factories import UserFactory

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "templates"

# What a policy must say, directive by directive, on every page but the API's Redoc page.
STRICT = {
    "default-src": {"'self'"},
    "script-src": {"'self'"},
    "style-src": {"'self'"},
    "object-src": {"'none'"},
    "base-uri": {"'none'"},
    "frame-ancestors": {"'none'"},
    "form-action": {"'self'"},
}


def _policy(response) -> dict[str, set[str]]:
    header = response["Content-Security-Policy"]
    directives = {}
    for part in header.split(";"):
        name, *values = part.split()
        directives[name] = set(values)
    return directives


def _assert_strict(response) -> None:
    policy = _policy(response)
    for directive, values in STRICT.items():
        assert policy[directive] == values, (directive, policy.get(directive))
    assert "unsafe-inline" not in response["Content-Security-Policy"]
    assert "unsafe-eval" not in response["Content-Security-Policy"]


# Content-Security-Policy ---------------------------------------------------------------------


@pytest.mark.django_db
def test_a_public_page_has_the_strict_policy(client):
    response = client.get(reverse("web:timeline"))

    assert response.status_code == 200
    _assert_strict(response)


@pytest.mark.django_db
def test_a_workspace_page_has_the_strict_policy(client, ai_act_catalogue):
    from tests.factories import acme_organisation

    owner = UserFactory(username="owner")
    org = acme_organisation(owner)
    client.force_login(owner)

    for url in [reverse("workspace:home"), reverse("workspace:dashboard", args=[org.slug])]:
        response = client.get(url)
        assert response.status_code == 200, url
        _assert_strict(response)


@pytest.mark.django_db
def test_the_admin_has_the_strict_policy_and_needs_no_inline_script(client, admin_user):
    login = client.get(reverse("admin:login"))
    assert login.status_code == 200
    _assert_strict(login)
    assert not _inline_code(login.content.decode())
    client.force_login(admin_user)
    urls = [
        reverse("admin:index"),
        reverse("admin:catalogue_milestone_changelist"),
        reverse("admin:catalogue_milestone_add"),
        reverse("admin:auth_user_add"),
    ]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        _assert_strict(response)
        assert not _inline_code(response.content.decode()), url


@pytest.mark.django_db
def test_error_and_lockout_pages_have_the_policy_too(client):
    assert "frame-ancestors 'none'" in client.get("/no-such-page/")["Content-Security-Policy"]
    for n in range(5):
        locked = client.post(reverse("login"), {"username": "x", "password": str(n)})
    assert locked.status_code == 429
    _assert_strict(locked)


@pytest.mark.django_db
def test_only_the_api_docs_page_loosens_the_policy_and_only_for_styles(client):
    response = client.get(reverse("v1:docs"))

    assert response.status_code == 200
    policy = _policy(response)
    assert policy["script-src"] == {"'self'"}
    assert policy["style-src"] == {"'self'", "'unsafe-inline'"}
    assert policy["frame-ancestors"] == {"'none'"}


def _inline_code(html: str) -> list[str]:
    """Inline scripts, style elements, style attributes and event-handler attributes."""
    found = []
    for match in re.finditer(r"<script\b([^>]*)>", html, flags=re.I):
        attributes = match.group(1)
        if "src=" not in attributes and "application/json" not in attributes:
            found.append(match.group(0))
    found += re.findall(r"<style\b[^>]*>", html, flags=re.I)
    found += re.findall(r"""<[a-z][^>]*\sstyle\s*=\s*["'][^>]*>""", html, flags=re.I)
    found += re.findall(r"""<[a-z][^>]*\son[a-z]+\s*=\s*["'][^>]*>""", html, flags=re.I)
    return found


def test_no_page_template_has_inline_script_or_style():
    """The policy blocks them, so a template that adds one breaks in the browser: say so here.
    (Email templates are not pages.)"""
    offenders = {}
    for path in TEMPLATES.rglob("*.html"):
        if "email" in path.relative_to(TEMPLATES).parts:
            continue
        if found := _inline_code(path.read_text()):
            offenders[str(path.relative_to(ROOT))] = found
    assert offenders == {}


# Compose and the image -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


APP_SERVICES = ["migrate", "web", "worker", "beat"]


def test_compose_publishes_no_fallback_secret_key(compose):
    text = (ROOT / "docker-compose.yml").read_text()
    for name in APP_SERVICES:
        environment = compose["services"][name]["environment"]
        # Either taken from the caller's environment with no default, or generated into the
        # shared volume by the settings (SECRET_KEY_FILE).
        assert environment["SECRET_KEY"] in ("${SECRET_KEY:-}", "${SECRET_KEY:?set SECRET_KEY}")
        assert environment["SECRET_KEY_FILE"].startswith("/app/secrets/")
        assert "secrets:/app/secrets" in compose["services"][name]["volumes"]
    assert "secrets" in compose["volumes"]
    assert not re.search(r"SECRET_KEY:-[^}]", text)


def test_compose_pins_every_image_by_version(compose):
    for name, service in compose["services"].items():
        if "build" in service:
            continue
        _image, _, tag = service["image"].partition(":")
        assert re.match(r"v?\d+\.\d+", tag), f"{name}: {service['image']} is not pinned"


def test_compose_runs_the_app_as_a_non_root_user_and_restarts_everything(compose):
    for name, service in compose["services"].items():
        if name == "migrate":  # one shot: it runs to its end, once per `up`
            assert service["restart"] == "no"
            continue
        assert service.get("restart") in ("unless-stopped", "always", "on-failure"), name
    for name in APP_SERVICES:
        user = str(compose["services"][name]["user"])
        assert user.split(":")[0] not in ("", "0", "root"), name


def test_web_worker_and_beat_wait_for_the_one_shot_migration(compose):
    migrate = compose["services"]["migrate"]
    assert "manage.py migrate" in migrate["command"]
    assert "catalogue_load" in migrate["command"] and "admin_ensure" in migrate["command"]
    web = compose["services"]["web"]
    assert web["healthcheck"]["test"][0] == "CMD"
    assert "start_period" in web["healthcheck"]
    for name in ["web", "worker", "beat"]:
        service = compose["services"][name]
        assert service["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
        assert "migrate" not in service["command"], name


def test_the_image_runs_unprivileged_and_copies_no_local_state():
    dockerfile = (ROOT / "Dockerfile").read_text()

    assert re.search(r"^FROM python:3\.11\.\d+-slim", dockerfile, flags=re.M)
    (user,) = re.findall(r"^USER (\S+)", dockerfile, flags=re.M)
    assert user.split(":")[0] not in ("0", "root")
    copied = re.findall(r"^COPY (\S+)", dockerfile, flags=re.M)
    assert "." not in copied and "var" not in copied
    # collectstatic must not write a key into the image
    assert re.search(r"SECRET_KEY=\S+ python manage.py collectstatic", dockerfile)


# The secret key and HSTS -----------------------------------------------------------------------

PRODUCTION_ENV = {
    "PATH": os.environ.get("PATH", ""),
    "DJANGO_SETTINGS_MODULE": "config.settings",
    "DEBUG": "false",
    "SECURE": "true",
    "ALLOWED_HOSTS": "jalon.example.org",
    "DATABASE_URL": "sqlite:///:memory:",
}
PRINT_SETTINGS = (
    "import django; django.setup(); from django.conf import settings as s; "
    "print(s.SECRET_KEY); print(s.SECURE_HSTS_PRELOAD); print(s.SILENCED_SYSTEM_CHECKS)"
)


def _settings(env: dict) -> list[str]:
    result = subprocess.run([sys.executable, "-c", PRINT_SETTINGS], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def test_without_secret_key_one_is_generated_once_into_the_key_file_and_shared(tmp_path):
    key_file = tmp_path / "secrets" / "secret_key"
    env = {**PRODUCTION_ENV, "SECRET_KEY_FILE": str(key_file)}

    first, second = _settings(env)[0], _settings(env)[0]

    assert first == second == key_file.read_text()
    assert len(first) >= 50
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert _settings({**env, "SECRET_KEY": "from-the-environment"})[0] == "from-the-environment"


def test_hsts_preload_is_off_unless_asked_for(tmp_path):
    env = {**PRODUCTION_ENV, "SECRET_KEY": "x" * 64}

    _key, off, silenced = _settings(env)
    _key, on, silenced_on = _settings({**env, "SECURE_HSTS_PRELOAD": "true"})

    assert (off, on) == ("False", "True")
    assert silenced == "['security.W021']"
    assert silenced_on == "[]"


def test_the_deploy_check_is_clean_with_hsts_preload_on():
    env = {**PRODUCTION_ENV, "SECRET_KEY": "x" * 64 + "-deploy", "SECURE_HSTS_PRELOAD": "true"}
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip

    assert result.returncode == 0, result.stderr


# Favicon and the admin's name -------------------------------------------------------------------


@pytest.mark.django_db
def test_the_favicon_is_linked_from_every_page_and_served(client, settings):
    settings.WHITENOISE_USE_FINDERS = True  # served from static/, as after collectstatic
    page = client.get(reverse("web:timeline")).content.decode()
    href = re.search(r'<link rel="icon" href="([^"]+)" type="image/svg\+xml">', page).group(1)

    icon = client.get(href)
    legacy = client.get("/favicon.ico")

    assert icon.status_code == 200
    assert icon["Content-Type"] == "image/svg+xml"
    assert b"<svg" in b"".join(icon.streaming_content)
    assert legacy.status_code == 302
    assert legacy.url == href


@pytest.mark.django_db
def test_the_admin_is_called_jalon_administration(client, admin_user):
    login = client.get(reverse("admin:login")).content.decode()
    client.force_login(admin_user)
    index = client.get(reverse("admin:index")).content.decode()

    for html in (login, index):
        assert "Jalon administration" in html
        assert "Django administration" not in html
        assert "Django site admin" not in html
        assert 'rel="icon"' in html
    assert "<title>Catalogue, workspace and delivery | Jalon administration</title>" in index
