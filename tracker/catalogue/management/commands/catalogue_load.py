from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from tracker.catalogue.packs import PackError
from tracker.catalogue.services import catalogue_load_file


class Command(BaseCommand):
    help = "Load catalogue packs (YAML). Idempotent; a bad file is rejected whole."

    def add_arguments(self, parser):
        parser.add_argument(
            "paths", nargs="*", help="Pack files; default: every *.yaml under fixtures/."
        )

    def handle(self, *args, paths, **options):
        files = [Path(p) for p in paths] or sorted((settings.BASE_DIR / "fixtures").glob("*.yaml"))
        if not files:
            raise CommandError("No pack files given and none found under fixtures/.")
        for path in files:
            try:
                report = catalogue_load_file(path=path)
            except PackError as exc:
                raise CommandError(
                    f"{exc.path} was rejected, nothing was written:\n  " + "\n  ".join(exc.problems)
                ) from exc
            self.stdout.write(
                f"{path.name}: {len(report.created)} created, {len(report.updated)} updated, "
                f"{report.unchanged} unchanged"
            )
            for key in report.updated:
                self.stdout.write(f"  updated {key}")
            if report.not_in_pack:
                self.stdout.write(
                    self.style.WARNING(
                        "  in the database but not in the pack (kept): "
                        + ", ".join(report.not_in_pack)
                    )
                )
