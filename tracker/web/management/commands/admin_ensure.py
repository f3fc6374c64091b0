import os

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from tracker.web.admin_account import admin_create_hint


class Command(BaseCommand):
    help = (
        "Create the admin account from DJANGO_SUPERUSER_USERNAME and _PASSWORD (and _EMAIL, "
        "optional) if it does not exist yet, or say how to create one. Never changes an "
        "existing account, so running it at every start is harmless."
    )

    def handle(self, *args, **options):
        username = os.environ.get("DJANGO_SUPERUSER_USERNAME", "").strip()
        users = get_user_model().objects
        if not username:
            if not users.filter(is_superuser=True).exists():
                hint = f"No admin account yet: {admin_create_hint()}."
                self.stdout.write(self.style.WARNING(hint))
            return
        existing = users.filter(username=username).first()
        if existing is not None:
            role = "Admin account" if existing.is_superuser else "Account (not an admin)"
            self.stdout.write(f"{role} {username!r} already exists.")
            return
        if not os.environ.get("DJANGO_SUPERUSER_PASSWORD"):
            raise CommandError(
                f"DJANGO_SUPERUSER_USERNAME={username} is set but DJANGO_SUPERUSER_PASSWORD is "
                "not: set both to create the admin account (DJANGO_SUPERUSER_EMAIL is optional)."
            )
        email = os.environ.get("DJANGO_SUPERUSER_EMAIL", "").strip()
        try:
            # An empty --email is createsuperuser's own way to make an account without one.
            call_command(
                "createsuperuser", interactive=False, verbosity=0, username=username, email=email
            )
        except CommandError as error:
            raise CommandError(
                f"Cannot create the admin account from DJANGO_SUPERUSER_USERNAME={username}"
                + (f" and DJANGO_SUPERUSER_EMAIL={email}" if email else "")
                + f": {error}"
            ) from None
        without = "" if email else " (without an email address)"
        self.stdout.write(self.style.SUCCESS(f"Created the admin account {username!r}{without}."))
