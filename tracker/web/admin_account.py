"""The admin account at start-up: said the same way by `admin_ensure` and `make run`'s ready block.

The hint names the command that works where it is read: the checkout's virtualenv under
`make run`, `docker compose exec web ...` under compose (which sets MANAGE_COMMAND), plain
`python manage.py` elsewhere.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model


def manage_command() -> str:
    """How the person reading the hint runs manage.py here."""
    if command := os.environ.get("MANAGE_COMMAND", "").strip():
        return command
    python = Path(sys.executable)
    if python.is_relative_to(settings.BASE_DIR):
        return f"{python.relative_to(settings.BASE_DIR)} manage.py"
    return "python manage.py"


def admin_usernames(limit: int = 3) -> list[str]:
    """The first superusers' usernames, oldest first."""
    superusers = get_user_model().objects.filter(is_superuser=True, is_active=True)
    return list(superusers.order_by("pk").values_list("username", flat=True)[:limit])


def admin_create_hint() -> str:
    """One line: the two ways to get a first admin account."""
    return (
        f"create one with `{manage_command()} createsuperuser`, or set "
        "DJANGO_SUPERUSER_USERNAME and DJANGO_SUPERUSER_PASSWORD (DJANGO_SUPERUSER_EMAIL "
        "optional) and start again"
    )
