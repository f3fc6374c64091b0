from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from tracker.catalogue.pack_load import catalogue_load_file
from tracker.catalogue.packs import PackError


class Command(BaseCommand):
    help = (
        "Load catalogue packs (YAML). Applies only what a pack changed since its last load; "
        "where an editor changed the same field, records a conflict for the admin instead. "
        "A bad file is rejected whole."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "paths", nargs="*", help="Pack files; default: every *.yaml under fixtures/."
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Show what would happen; write nothing."
        )
        parser.add_argument(
            "--force", action="store_true", help="Merge even a file unchanged since last load."
        )

    def handle(self, *args, paths, dry_run, force, **options):
        files = [Path(p) for p in paths] or sorted((settings.BASE_DIR / "fixtures").glob("*.yaml"))
        if not files:
            raise CommandError("No pack files given and none found under fixtures/.")
        for path in files:
            try:
                report = catalogue_load_file(path=path, dry_run=dry_run, force=force)
            except PackError as exc:
                raise CommandError(
                    f"{exc.path} was rejected, nothing was written:\n  " + "\n  ".join(exc.problems)
                ) from exc
            self._print(path, report, dry_run)

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
