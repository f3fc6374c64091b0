import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone

from tracker.workspace import applicability as law
from tracker.workspace.checker import applicability_answer
from tracker.workspace.facts import FactsInvalid, facts_parse


class Command(BaseCommand):
    help = (
        "What the AI Act asks of a company described in a JSON file (the shape of "
        "POST /api/v1/applicability/), by when and why."
    )

    def add_arguments(self, parser):
        parser.add_argument("profile", help="A JSON file: {as_of?, company?, systems: [...]}.")
        parser.add_argument(
            "--json", action="store_true", dest="as_json", help="Print the API's JSON answer."
        )

    def handle(self, *args, profile, as_json: bool, **options):
        answer = self._answer(Path(profile))
        if as_json:
            self.stdout.write(
                json.dumps(answer, cls=DjangoJSONEncoder, indent=2, ensure_ascii=False)
            )
            return
        self.stdout.write(
            f"As of {answer['as_of']}, catalogue version {answer['catalogue_version']}: "
            f"{len(answer['obligations'])} milestone(s) apply."
        )
        for row in answer["obligations"]:
            when = row["date"].isoformat() if row["date"] else "from an event"
            systems = ", ".join(row["systems"]) or "the company"
            self.stdout.write(f"\n{when:<13} {row['title']}  [{row['legal_basis']}]")
            self.stdout.write(f"{'':<13} for: {systems}")
            for reason in row["reasons"]:
                self.stdout.write(f"{'':<13} - {reason}")

    def _answer(self, path: Path) -> dict:
        try:
            payload = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise CommandError(f"cannot read {path}: {exc.strerror}") from exc
        except ValueError as exc:
            raise CommandError(f"{path} is not valid JSON: {exc}") from exc
        try:
            company, as_of = facts_parse(payload, today=timezone.localdate())
            return applicability_answer(company=company, as_of=as_of)
        except FactsInvalid as exc:
            problems = "\n  ".join(
                f"{k or 'profile'}: {' '.join(v)}" for k, v in exc.errors.items()
            )
            raise CommandError(f"{path} describes no valid company:\n  {problems}") from exc
        except law.CatalogueIncomplete as exc:
            raise CommandError(f"{exc}; load the packs first (manage.py catalogue_load)") from exc
