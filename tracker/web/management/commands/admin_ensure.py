import os

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = (
        "Create the admin account from DJANGO_SUPERUSER_USERNAME / _EMAIL / _PASSWORD "
        "if it does not exist yet, or say how to create one."
    )

    def handle(self, *args, **options):
        username = os.environ.get("DJANGO_SUPERUSER_USERNAME")
        users = get_user_model().objects
        if username and not users.filter(username=username).exists():
            call_command("createsuperuser", interactive=False, verbosity=0)
            self.stdout.write(self.style.SUCCESS(f"Created the admin account {username!r}."))
        elif username:
            self.stdout.write(f"Admin account {username!r} already exists.")
        elif not users.filter(is_superuser=True).exists():
            self.stdout.write(
                self.style.WARNING(
                    "No admin account yet. Create one with\n"
                    "  .venv/bin/python manage.py createsuperuser\n"
                    "or set DJANGO_SUPERUSER_USERNAME, DJANGO_SUPERUSER_EMAIL and "
                    "DJANGO_SUPERUSER_PASSWORD before `make run`."
                )
            )
