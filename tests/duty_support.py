"""Obligation rows for tests: the real obligations pack read as plain YAML, and a small factory.

`obligations_load()` makes (or refreshes, by key) one catalogue Obligation per entry of
fixtures/obligations/eu-ai-act-obligations.yaml, hung on the milestone of the same key loaded
by the `ai_act_catalogue` fixture. It reads the YAML itself, so these tests do not depend on
the catalogue's loader; once that loader has loaded the pack, the rows are simply found again.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import yaml

from tracker.catalogue.models import Confidence, Milestone, Obligation

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
OBLIGATIONS_PACK = FIXTURES / "obligations" / "eu-ai-act-obligations.yaml"
FIELDS = ("article", "roles", "when", "when_any", "unless", "title", "done_when", "text",
          "source_url", "confidence", "note")  # fmt: skip


def pack_entries() -> list[dict]:
    """The pack's entries, as written."""
    return yaml.safe_load(OBLIGATIONS_PACK.read_text(encoding="utf-8"))["obligations"]


def obligations_load(*, only: set[str] | None = None) -> list[Obligation]:
    """The pack's obligations as catalogue rows (those of `only` milestone keys, if given), in
    the pack's order; the milestones must be loaded."""
    entries = [e for e in pack_entries() if only is None or e["milestone"] in only]
    keys = {e["milestone"] for e in entries}
    milestones = {m.key: m for m in Milestone.objects.filter(key__in=keys)}
    rows = []
    for entry in entries:
        values = {name: entry.get(name) for name in FIELDS}
        values["when"] = values["when"] or {}
        values["when_any"] = values["when_any"] or []
        values["unless"] = values["unless"] or []
        values["note"] = values["note"] or ""
        row, _ = Obligation.objects.update_or_create(
            key=entry["key"], defaults={"milestone": milestones[entry["milestone"]], **values}
        )
        rows.append(row)
    return rows


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
