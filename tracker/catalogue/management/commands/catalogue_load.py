from contextlib import nullcontext
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from tracker.catalogue.pack_load import catalogue_load_file
from tracker.catalogue.packs import PackError, pack_is_obligations


class Command(BaseCommand):
    help = (
        "Load catalogue packs (YAML). Applies only what a pack changed since its last load; "
        "where an editor changed the same field, records a conflict for the admin instead. "
        "A bad file is rejected whole."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "paths",
            nargs="*",
            help="Pack files; default: every *.yaml under fixtures/, then under "
            "fixtures/obligations/ (obligations load after their milestones).",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Show what would happen; write nothing."
        )
        parser.add_argument(
            "--force", action="store_true", help="Merge even a file unchanged since last load."
        )

    def handle(self, *args, paths, dry_run, force, **options):
        fixtures = settings.BASE_DIR / "fixtures"
        files = [Path(p) for p in paths] or [
            *sorted(fixtures.glob("*.yaml")),
            *sorted((fixtures / "obligations").glob("*.yaml")),
        ]
        if not files:
            raise CommandError("No pack files given and none found under fixtures/.")
        # Obligations name milestones: their packs go last, whatever order they were given in.
        files.sort(key=pack_is_obligations)
        # A dry run is one transaction rolled back at the end, so an obligations pack sees the
        # milestones a milestones pack of the same run would create.
        with transaction.atomic() if dry_run else nullcontext():
            for path in files:
                try:
                    report = catalogue_load_file(path=path, force=force)
                except PackError as exc:
                    raise CommandError(
                        f"{exc.path} was rejected, nothing was written:\n  "
                        + "\n  ".join(exc.problems)
                    ) from exc
                self._print(path, report, dry_run)
            if dry_run:
                transaction.set_rollback(True)  # nothing written, nothing announced

    def _print(self, path, report, dry_run):
        prefix = "[dry run] " if dry_run else ""
        if report.file_unchanged:
            self.stdout.write(f"{prefix}{path.name}: unchanged since the last load, nothing to do")
            return
        self.stdout.write(
            f"{prefix}{path.name}: {len(report.created)} created, {len(report.applied)} applied, "
            f"{len(report.kept)} kept (an editor's value stands), {len(report.conflicts)} in "
            f"conflict, {report.unchanged} unchanged"
        )
        for label, rows in (
            ("created", report.created),
            ("applied", report.applied),
            ("kept", report.kept),
            ("deleted in the catalogue, not recreated", report.deleted),
        ):
            for row in rows:
                self.stdout.write(f"  {label} {row}")
        for row in report.conflicts:
            self.stdout.write(self.style.WARNING(f"  conflict {row}"))
        if report.conflicts:
            self.stdout.write(
                self.style.WARNING(
                    "  resolve conflicts in the admin: /admin/catalogue/packconflict/"
                )
            )
        if report.not_in_pack:
            self.stdout.write(
                self.style.WARNING(
                    "  in the database but not in the pack (kept): " + ", ".join(report.not_in_pack)
                )
            )
