"""Parse and validate a catalogue pack (YAML, see docs/catalogue-format.md).

Parsing never touches the database: a pack is either valid as a whole, and becomes a
`Pack`, or `PackError` lists every problem with its line number and entry key.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

import yaml
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

from tracker.catalogue.conditions import validate_conditions
from tracker.catalogue.models import EXPLAINER_MAX, Confidence, Milestone

KEY_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
VOCAB_KEY_RE = re.compile(r"^[a-z0-9_]+$")
CELEX_RE = re.compile(r"^[0-9CE][0-9]{4}[A-Z]{1,2}[0-9]{4}(?:\([0-9]+\))?$")
PROCEDURE_RE = re.compile(r"^[0-9]{4}/[0-9]{4}\((?:COD|CNS|APP|NLE|INI)\)$")
LINE = "__line__"


class PackError(Exception):
    """A pack that cannot be loaded; `problems` holds one readable line each."""

    def __init__(self, path: Path | str, problems: list[str]):
        self.path = str(path)
        self.problems = problems
        super().__init__(f"{self.path}: {len(problems)} problem(s)\n" + "\n".join(problems))


@dataclass(frozen=True)
class AmendmentSpec:
    old_date: dt.date
    new_date: dt.date
    amending_act: str
    source_url: str
    effective_on: dt.date | None
    confidence: str
    note: str


@dataclass(frozen=True)
class MilestoneSpec:
    line: int
    fields: dict[str, Any]
    roles: tuple[str, ...]
    scopes: tuple[str, ...]
    amendments: tuple[AmendmentSpec, ...]

    @property
    def key(self) -> str:
        return self.fields["key"]


@dataclass(frozen=True)
class Pack:
    path: str
    regulation: dict[str, Any]
    roles: dict[str, str]
    scopes: dict[str, str]
    milestones: list[MilestoneSpec] = field(default_factory=list)


class _LineLoader(yaml.SafeLoader):
    """A safe loader that remembers the line where each mapping starts."""

    def construct_mapping(self, node, deep=False):
        mapping = super().construct_mapping(node, deep=deep)
        mapping[LINE] = node.start_mark.line + 1
        return mapping


_validate_url = URLValidator(schemes=["http", "https"])

MILESTONE_FIELDS = {
    "key",
    "title",
    "summary",
    "kind",
    "date",
    "date_precision",
    "every_months",
    "until",
    "offset_days",
    "offset_hours",
    "trigger",
    "trigger_label",
    "category",
    "status",
    "confidence",
    "legal_basis",
    "source_url",
    "source_title",
    "verified_on",
    "indicative",
    "explainer",
    "editor_note",
    "notes",  # the editors' note's former name, still read
    "roles",
    "scopes",
    "amendments",
}
REQUIRED = (
    "key",
    "title",
    "kind",
    "category",
    "status",
    "confidence",
    "legal_basis",
    "source_url",
    "roles",
    "scopes",
)
AMENDMENT_FIELDS = {"from", "to", "act", "source_url", "effective", "confidence", "note"}


class _Problems(list):
    def add(self, line: int | None, where: str, message: str) -> None:
        self.append(f"line {line or '?'}, {where}: {message}")


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _check_date(problems, line, where, name, value, required=False):
    if value is None:
        if required:
            problems.add(line, where, f"{name} is missing")
        return None
    if isinstance(value, dt.datetime) or not isinstance(value, dt.date):
        problems.add(line, where, f"{name} must be a date written YYYY-MM-DD, not {value!r}")
        return None
    return value


def _whole(value: Any) -> bool:
    """An integer written as one (YAML's true and false are not numbers here)."""
    return isinstance(value, int) and not isinstance(value, bool)


def _check_url(problems, line, where, name, value):
    try:
        _validate_url(_text(value))
    except ValidationError:
        problems.add(line, where, f"{name} is not a valid http(s) URL: {value!r}")


def _check_choice(problems, line, where, name, value, choices):
    if value not in choices:
        problems.add(line, where, f"{name} {value!r} is not one of {', '.join(choices)}")


def _vocabulary(problems, raw, name) -> dict[str, str]:
    found: dict[str, str] = {}
    if raw is None:
        return found
    if not isinstance(raw, list):
        problems.add(None, name, "must be a list of {key, name}")
        return found
    for item in raw:
        line = item.get(LINE) if isinstance(item, dict) else None
        key = _text(item.get("key")) if isinstance(item, dict) else ""
        if not VOCAB_KEY_RE.match(key) or not _text(item.get("name")):
            problems.add(line, name, f"each entry needs a key (a-z, 0-9, _) and a name: {key!r}")
            continue
        found[key] = _text(item["name"])
    return found


def _amendments(problems, raw, line, where) -> list[AmendmentSpec]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        problems.add(line, where, "amendments must be a list")
        return []
    specs = []
    for item in raw:
        if not isinstance(item, dict):
            problems.add(line, where, "each amendment must be a mapping")
            continue
        aline = item.get(LINE, line)
        unknown = set(item) - AMENDMENT_FIELDS - {LINE}
        if unknown:
            problems.add(aline, where, f"unknown amendment field(s): {', '.join(sorted(unknown))}")
        old = _check_date(problems, aline, where, "amendment from", item.get("from"), True)
        new = _check_date(problems, aline, where, "amendment to", item.get("to"), True)
        effective = _check_date(
            problems, aline, where, "amendment effective", item.get("effective")
        )
        if not _text(item.get("act")):
            problems.add(aline, where, "amendment act is missing")
        if not item.get("source_url"):
            problems.add(aline, where, "amendment source_url is missing")
        else:
            _check_url(problems, aline, where, "amendment source_url", item["source_url"])
        _check_choice(
            problems,
            aline,
            where,
            "amendment confidence",
            item.get("confidence"),
            Confidence.values,
        )
        if old and new and old == new:
            problems.add(aline, where, "an amendment must move the date (from equals to)")
        if old and new:
            specs.append(
                AmendmentSpec(
                    old_date=old,
                    new_date=new,
                    amending_act=_text(item.get("act")),
                    source_url=_text(item.get("source_url")),
                    effective_on=effective,
                    confidence=_text(item.get("confidence")),
                    note=_text(item.get("note")),
                )
            )
    for earlier, later in pairwise(specs):
        if later.old_date != earlier.new_date:
            problems.add(
                line,
                where,
                f"amendments do not chain: {earlier.new_date} then from {later.old_date}",
            )
    return specs


def _milestone(problems, raw, roles, scopes) -> MilestoneSpec | None:
    if not isinstance(raw, dict):
        problems.add(None, "milestones", f"each milestone must be a mapping, not {raw!r}")
        return None
    line = raw.get(LINE)
    key = _text(raw.get("key"))
    where = f"milestone {key!r}" if key else "milestone without a key"
    before = len(problems)

    unknown = set(raw) - MILESTONE_FIELDS - {LINE}
    if unknown:
        problems.add(line, where, f"unknown field(s): {', '.join(sorted(unknown))}")
    for name in REQUIRED:
        if raw.get(name) in (None, "", []):
            problems.add(line, where, f"{name} is missing")
    if key and not KEY_RE.match(key):
        problems.add(line, where, "key must be lowercase letters, digits and dashes")
    if raw.get("source_url"):
        _check_url(problems, line, where, "source_url", raw["source_url"])

    kind = raw.get("kind")
    _check_choice(problems, line, where, "kind", kind, Milestone.Kind.values)
    _check_choice(problems, line, where, "category", raw.get("category"), Milestone.Category.values)
    _check_choice(problems, line, where, "status", raw.get("status"), Milestone.Status.values)
    _check_choice(problems, line, where, "confidence", raw.get("confidence"), Confidence.values)
    precision = raw.get("date_precision", Milestone.Precision.DAY)
    _check_choice(problems, line, where, "date_precision", precision, Milestone.Precision.values)

    date = _check_date(problems, line, where, "date", raw.get("date"))
    until = _check_date(problems, line, where, "until", raw.get("until"))
    verified_on = _check_date(problems, line, where, "verified_on", raw.get("verified_on"))
    every_months = raw.get("every_months")
    offset_days = raw.get("offset_days")
    offset_hours = raw.get("offset_hours")
    trigger = _text(raw.get("trigger"))
    indicative = raw.get("indicative", False)
    if not isinstance(indicative, bool):
        problems.add(line, where, f"indicative must be true or false, not {indicative!r}")

    if kind in ("fixed", "recurring") and date is None and "date" in raw:
        pass  # already reported as a bad date
    elif kind in ("fixed", "recurring") and date is None:
        problems.add(line, where, f"a {kind} milestone needs a date")
    if kind == "recurring" and not (isinstance(every_months, int) and every_months > 0):
        problems.add(line, where, "a recurring milestone needs every_months, a positive integer")
    if kind != "recurring" and (every_months is not None or until is not None):
        problems.add(line, where, "every_months and until are only for recurring milestones")
    if kind == "relative":
        if "date" in raw:
            problems.add(line, where, "a relative milestone has no date")
        if offset_days is not None and offset_hours is not None:
            problems.add(line, where, "give offset_days or offset_hours, not both")
        elif offset_hours is not None:
            if not (_whole(offset_hours) and offset_hours > 0):
                problems.add(line, where, "offset_hours must be a positive whole number")
        elif not (_whole(offset_days) and offset_days >= 0):
            message = "a relative milestone needs offset_days (or offset_hours), a whole number"
            problems.add(line, where, message)
        if not VOCAB_KEY_RE.match(trigger):
            problems.add(line, where, "a relative milestone needs a trigger (a-z, 0-9, _)")
        if indicative is True:
            problems.add(line, where, "indicative is only for fixed and recurring milestones")
    elif offset_days is not None or offset_hours is not None or trigger:
        problems.add(
            line, where, "offset_days, offset_hours and trigger are only for relative milestones"
        )

    if "notes" in raw and "editor_note" in raw:
        problems.add(line, where, "notes is the former name of editor_note: give one of them")
    for name in ("explainer", "editor_note", "notes"):
        if isinstance(raw.get(name), (dict, list)):
            problems.add(line, where, f"{name} must be text, not a list or a mapping")
    if len(_text(raw.get("explainer"))) > EXPLAINER_MAX:
        problems.add(line, where, f"explainer is longer than {EXPLAINER_MAX} characters")

    role_keys = tuple(raw.get("roles") or ())
    scope_keys = tuple(raw.get("scopes") or ())
    for name, keys, known in (("role", role_keys, roles), ("scope", scope_keys, scopes)):
        missing = [k for k in keys if k not in known]
        if missing:
            problems.add(line, where, f"unknown {name}(s): {', '.join(map(str, missing))}")

    amendments = _amendments(problems, raw.get("amendments"), line, where)
    if amendments and date and amendments[-1].new_date != date:
        problems.add(
            line,
            where,
            f"date {date} differs from the last amendment's to {amendments[-1].new_date}",
        )

    if len(problems) > before:
        return None
    return MilestoneSpec(
        line=line,
        fields={
            "key": key,
            "title": _text(raw["title"]),
            "summary": _text(raw.get("summary")),
            "kind": kind,
            "date": date,
            "date_precision": precision,
            "original_date": amendments[0].old_date if amendments else None,
            "every_months": every_months,
            "until": until,
            "offset_days": offset_days,
            "offset_hours": offset_hours,
            "trigger": trigger,
            "trigger_label": _text(raw.get("trigger_label")),
            "category": raw["category"],
            "status": raw["status"],
            "confidence": raw["confidence"],
            "legal_basis": _text(raw["legal_basis"]),
            "source_url": _text(raw["source_url"]),
            "source_title": _text(raw.get("source_title")),
            "verified_on": verified_on,
            "indicative": indicative,
            "explainer": _text(raw.get("explainer")),
            "editor_note": _text(raw.get("editor_note", raw.get("notes"))),
        },
        roles=role_keys,
        scopes=scope_keys,
        amendments=tuple(amendments),
    )


def _load_yaml(path: Path | str, text: str | None) -> Any:
    if text is None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise PackError(path, [f"cannot read the file: {exc}"]) from exc
    try:
        return yaml.load(text, Loader=_LineLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "somewhere"
        raise PackError(
            path, [f"{where}: not valid YAML ({getattr(exc, 'problem', exc)})"]
        ) from exc


def pack_parse(*, path: Path | str, text: str | None = None) -> Pack:
    """Read a pack and validate all of it; raise PackError naming every bad entry and line."""
    return _milestone_pack(path, _load_yaml(path, text))


def _milestone_pack(path: Path | str, data: Any) -> Pack:
    problems = _Problems()
    if not isinstance(data, dict):
        raise PackError(
            path, ["the file must be a mapping with regulation, roles, scopes, milestones"]
        )

    regulation = data.get("regulation")
    if not isinstance(regulation, dict):
        problems.add(None, "regulation", "the regulation block is missing")
        regulation = {}
    rline = regulation.get(LINE)
    for name in ("key", "short_name", "title", "source_url"):
        if not _text(regulation.get(name)):
            problems.add(rline, "regulation", f"{name} is missing")
    if regulation.get("key") and not KEY_RE.match(_text(regulation["key"])):
        problems.add(rline, "regulation", "key must be lowercase letters, digits and dashes")
    if regulation.get("source_url"):
        _check_url(problems, rline, "regulation", "source_url", regulation["source_url"])

    celex = _text(regulation.get("celex"))
    if celex and not CELEX_RE.match(celex):
        problems.add(rline, "regulation", f"celex {celex!r} is not a CELEX number (32024R1689)")
    procedures = regulation.get("procedures") or []
    if not isinstance(procedures, list) or not all(
        PROCEDURE_RE.match(_text(p)) for p in procedures
    ):
        problems.add(rline, "regulation", 'procedures must be a list like ["2025/0359(COD)"]')
        procedures = []

    roles = _vocabulary(problems, data.get("roles"), "roles")
    scopes = _vocabulary(problems, data.get("scopes"), "scopes")

    raw_milestones = data.get("milestones")
    if not isinstance(raw_milestones, list) or not raw_milestones:
        problems.add(None, "milestones", "the milestones list is missing or empty")
        raw_milestones = []
    specs: list[MilestoneSpec] = []
    first_line: dict[str, int] = {}
    for raw in raw_milestones:
        key = _text(raw.get("key")) if isinstance(raw, dict) else ""
        if key in first_line:
            problems.add(
                raw.get(LINE),
                f"milestone {key!r}",
                f"duplicate key, first used on line {first_line[key]}",
            )
            continue
        if key:
            first_line[key] = raw.get(LINE)
        if spec := _milestone(problems, raw, roles, scopes):
            specs.append(spec)

    if problems:
        raise PackError(path, list(problems))
    return Pack(
        path=str(path),
        regulation={
            "key": _text(regulation["key"]),
            "short_name": _text(regulation["short_name"]),
            "title": _text(regulation["title"]),
            "reference": _text(regulation.get("reference")),
            "source_url": _text(regulation["source_url"]),
            "summary": _text(regulation.get("summary")),
            "celex": celex,
            "procedures": [_text(p) for p in procedures],
        },
        roles=roles,
        scopes=scopes,
        milestones=specs,
    )


# Obligations packs (fixtures/obligations/*.yaml) ------------------------------------------

OBLIGATION_FIELDS = (
    "key", "milestone", "article", "roles", "when", "when_any", "unless", "title", "done_when",
    "text", "source_url", "confidence", "verified_on", "note",
)  # fmt: skip
OBLIGATION_REQUIRED = (
    "key", "milestone", "article", "roles", "title", "done_when", "text", "source_url",
    "confidence",
)  # fmt: skip
OBLIGATION_TEXT = ("article", "title", "done_when", "text", "source_url", "note")
# The columns' lengths: a longer value is refused here, not by the database halfway through.
OBLIGATION_MAX = {"key": 100, "milestone": 100, "article": 200, "title": 200, "source_url": 500}


@dataclass(frozen=True)
class ObligationSpec:
    line: int
    fields: dict[str, Any]  # the Obligation's fields; `milestone` is the milestone's key

    @property
    def key(self) -> str:
        return self.fields["key"]


@dataclass(frozen=True)
class ObligationPack:
    path: str
    regulation: str
    obligations: list[ObligationSpec] = field(default_factory=list)


def _without_lines(value: Any) -> Any:
    """A condition as written, without the line numbers the loader noted in its mappings."""
    if isinstance(value, dict):
        return {k: _without_lines(v) for k, v in value.items() if k != LINE}
    if isinstance(value, list):
        return [_without_lines(v) for v in value]
    return value


def _obligation(problems, raw) -> ObligationSpec | None:
    if not isinstance(raw, dict):
        problems.add(None, "obligations", f"each obligation must be a mapping, not {raw!r}")
        return None
    line = raw.get(LINE)
    key = _text(raw.get("key"))
    where = f"obligation {key!r}" if key else "obligation without a key"
    before = len(problems)

    unknown = set(raw) - set(OBLIGATION_FIELDS) - {LINE}
    if unknown:
        problems.add(line, where, f"unknown field(s): {', '.join(sorted(map(str, unknown)))}")
    for name in OBLIGATION_REQUIRED:
        if raw.get(name) in (None, "", []):
            problems.add(line, where, f"{name} is missing")
    if key and not KEY_RE.match(key):
        problems.add(line, where, "key must be lowercase letters, digits and dashes")
    milestone = _text(raw.get("milestone"))
    if milestone and not KEY_RE.match(milestone):
        problems.add(line, where, f"milestone: {milestone!r} is not a milestone key")
    for name in OBLIGATION_TEXT:
        if isinstance(raw.get(name), (dict, list)):
            problems.add(line, where, f"{name} must be text, not a list or a mapping")
        elif "\x00" in _text(raw.get(name)):
            problems.add(line, where, f"{name}: remove the NUL character, it cannot be stored")
    for name, limit in OBLIGATION_MAX.items():
        if len(_text(raw.get(name))) > limit:
            problems.add(line, where, f"{name} is longer than {limit} characters")
    if raw.get("source_url"):
        _check_url(problems, line, where, "source_url", raw["source_url"])
    if raw.get("confidence") is not None:
        _check_choice(problems, line, where, "confidence", raw["confidence"], Confidence.values)
    verified_on = _check_date(problems, line, where, "verified_on", raw.get("verified_on"))

    conditions = {
        name: _without_lines(raw.get(name)) for name in ("roles", "when", "when_any", "unless")
    }
    conditions["when"] = {} if conditions["when"] is None else conditions["when"]
    for name in ("when_any", "unless"):
        conditions[name] = [] if conditions[name] is None else conditions[name]
    try:
        validate_conditions(**conditions)
    except ValidationError as exc:
        for name, messages in exc.message_dict.items():
            if name == "roles" and conditions["roles"] in (None, "", []):
                continue  # reported above: roles is missing
            for message in messages:
                problems.add(line, where, f"{name}: {message}")

    if len(problems) > before:
        return None
    return ObligationSpec(
        line=line,
        fields={
            "key": key,
            "milestone": milestone,
            **{name: _text(raw.get(name)) for name in OBLIGATION_TEXT},
            **conditions,
            "confidence": raw["confidence"],
            "verified_on": verified_on,
        },
    )


def obligation_pack_parse(*, path: Path | str, text: str | None = None) -> ObligationPack:
    """Read an obligations pack and validate all of it without the database (milestones are
    checked when it is loaded); raise PackError naming every bad entry, field and line."""
    return _obligation_pack(path, _load_yaml(path, text))


def _obligation_pack(path: Path | str, data: Any) -> ObligationPack:
    problems = _Problems()
    if not isinstance(data, dict):
        raise PackError(path, ["the file must be a mapping with regulation and obligations"])
    unknown = set(data) - {"regulation", "obligations", LINE}
    if unknown:
        problems.add(None, "the file", f"unknown key(s): {', '.join(sorted(map(str, unknown)))}")
    regulation = _text(data.get("regulation"))
    if not KEY_RE.match(regulation):
        problems.add(None, "regulation", "give the key of the regulation, e.g. eu-ai-act")
    raw_obligations = data.get("obligations")
    if not isinstance(raw_obligations, list) or not raw_obligations:
        problems.add(None, "obligations", "the obligations list is missing or empty")
        raw_obligations = []
    specs: list[ObligationSpec] = []
    first_line: dict[str, int] = {}
    for raw in raw_obligations:
        key = _text(raw.get("key")) if isinstance(raw, dict) else ""
        if key in first_line:
            problems.add(
                raw.get(LINE),
                f"obligation {key!r}",
                f"duplicate key, first used on line {first_line[key]}",
            )
            continue
        if key:
            first_line[key] = raw.get(LINE)
        if spec := _obligation(problems, raw):
            specs.append(spec)
    if problems:
        raise PackError(path, list(problems))
    return ObligationPack(path=str(path), regulation=regulation, obligations=specs)


def pack_parse_any(*, path: Path | str, text: str | None = None) -> Pack | ObligationPack:
    """A milestones pack, or an obligations pack (a file whose top level lists obligations)."""
    data = _load_yaml(path, text)
    if isinstance(data, dict) and "obligations" in data:
        return _obligation_pack(path, data)
    return _milestone_pack(path, data)


def pack_is_obligations(path: Path | str) -> bool:
    """Whether a file is an obligations pack (its top level lists obligations), read cheaply:
    only to load such packs after the milestones they name. Unreadable files say no; loading
    them reports why."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    return re.search(r"^obligations\s*:", text, re.MULTILINE) is not None
