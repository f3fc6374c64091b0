"""Obligation rows for tests: the real obligations pack, and a small factory.

`obligations_load()` loads fixtures/obligations/eu-ai-act-obligations.yaml through the
catalogue's own loader (as `make run` does), onto the milestones the `ai_act_catalogue`
fixture loaded; loading it again changes nothing.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import yaml

from tests.catalogue_cache import packs_load
from tracker.catalogue.models import Confidence, Milestone, Obligation

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
OBLIGATIONS_PACK = FIXTURES / "obligations" / "eu-ai-act-obligations.yaml"


def pack_entries() -> list[dict]:
    """The pack's entries, as written."""
    return yaml.safe_load(OBLIGATIONS_PACK.read_text(encoding="utf-8"))["obligations"]


def obligations_load(*, only: set[str] | None = None) -> list[Obligation]:
    """The pack's obligations as catalogue rows (only those of the `only` milestone keys, if
    given: the others are removed), in the pack's order; the milestones must be loaded."""
    packs_load([OBLIGATIONS_PACK])  # catalogue_load_file, copied after the first time
    keys = [e["key"] for e in pack_entries() if only is None or e["milestone"] in only]
    if only is not None:
        Obligation.objects.exclude(key__in=keys).delete()
    rows = Obligation.objects.in_bulk(keys, field_name="key")
    return [rows[key] for key in keys]


def obligation_make(milestone: Milestone, n: int, **fields) -> Obligation:
    """A made-up duty of `milestone` (for counts and layouts, not for the law)."""
    values = {
        "article": f"Art. {n}",
        "roles": ["provider"],
        "title": f"Duty number {n}",
        "done_when": f"Duty {n} is done when it is done.",
        "text": f"Paraphrase: the text of duty {n}.",
        "source_url": "https://eur-lex.europa.eu/eli/reg/2024/1689/oj",
        "confidence": Confidence.HIGH,
        "verified_on": dt.date(2026, 11, 27),
        **fields,
    }
    return Obligation.objects.create(key=f"{milestone.key}-duty-{n}", milestone=milestone, **values)


def obligations_drop() -> None:
    """The catalogue without duties, for tests that follow milestones tracked as a whole (the
    way the workspace tracks a milestone whose duties are not listed): whether or not the
    `ai_act_catalogue` fixture loaded the obligations pack, none is left."""
    Obligation.objects.all().delete()
