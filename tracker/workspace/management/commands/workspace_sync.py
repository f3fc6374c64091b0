"""`manage.py workspace_sync`: every organisation's tracked items in line with the catalogue.

Run after `catalogue_load` (as `make run` does): the first run after the obligations pack is
loaded turns each milestone tracked as a whole into its duties, per AI system, with the work
done so far carried over. Idempotent: a second run changes nothing. One organisation that
fails is rolled back alone; its error is logged, printed and put on its review notes.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand

from tracker.workspace.services import tracking_sync_every


class Command(BaseCommand):
    help = "Bring every organisation's tracked items in line with the catalogue and the rules."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--organisation", action="append", dest="slugs", metavar="SLUG",
            help="Only this organisation (repeat for several).",
        )  # fmt: skip

    def handle(self, *args, slugs=None, **options) -> None:
        outcome = tracking_sync_every(slugs=slugs)
        self.stdout.write(
            f"{outcome['organisations']} organisation(s) in line: {outcome['added']} item(s) "
            f"added, {outcome['updated']} updated, {outcome['retired']} no longer applying."
        )
        for error in outcome["errors"]:
            self.stderr.write(f"{error['organisation']}: not synced: {error['error']}")
