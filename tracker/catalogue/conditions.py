"""The one validator of an obligation's `roles`, `when`, `when_any` and `unless`.

The catalogue is the bottom layer and does not know the workspace's facts, yet an obligation's
conditions are written in the workspace's fact names (`facts.MODEL_FIELDS`, `COMPANY_FLAGS`).
So the workspace registers its vocabulary at start-up (`WorkspaceConfig.ready`) and the pack
loader, `Obligation.clean()` and with it the admin form all check against it: a condition that
names a fact or a value the workspace does not know would silently never match, so it is
refused with a message an editor can act on, the same words wherever it was typed.

The vocabulary maps a fact name to its allowed values, or to None for a fact without a fixed
list (any plain value: text, a number, true or false). The key "roles" holds the roles an
obligation may name; it is not a condition.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import Any

from django.core.exceptions import ValidationError

ROLES = "roles"
CONDITION_FIELDS = ("when", "when_any", "unless")

_vocabulary: dict[str, tuple | None] = {}


def register_fact_vocabulary(mapping: Mapping[str, Iterable | None]) -> None:
    """Set the facts conditions may name (replacing any earlier registration).

    Replacing rather than merging keeps a second `ready()` (tests, a reloaded app registry)
    from leaving stale facts behind.
    """
    _vocabulary.clear()
    _vocabulary.update(
        {name: None if values is None else tuple(values) for name, values in mapping.items()}
    )


def fact_vocabulary() -> dict[str, tuple | None]:
    """A copy of the registered vocabulary (for forms, filters and tests)."""
    return dict(_vocabulary)


def _words(values) -> str:
    return ", ".join(_show(v) for v in values)


def _show(value: Any) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value == "":
        return "“” (not recorded)"
    return str(value)


def _is_plain(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" not in value
    return isinstance(value, (bool, int, float))


def _allowed(value: Any, allowed: tuple) -> bool:
    # Compared with its type: 1 is not true, "true" is not true.
    return any(type(value) is type(a) and value == a for a in allowed)


def _facts() -> list[str]:
    return [name for name in _vocabulary if name != ROLES]


def _unknown_fact(name: Any) -> str:
    shown = str(name).replace("\x00", "")[:60]
    message = f"Unknown fact “{shown}”."
    close = difflib.get_close_matches(shown, _facts(), n=1, cutoff=0.5)
    if close:
        message += f" Did you mean “{close[0]}”?"
    return f"{message} Facts: {', '.join(_facts())}."


def _check_map(conditions: Any, *, allow_empty: bool) -> list[str]:
    """The problems of one condition map {fact: [allowed values]}."""
    if not isinstance(conditions, dict):
        return ["Write the conditions as a mapping of fact to a list of values, such as "
                "{“risk_class”: [“high_risk_annex_iii”]}."]  # fmt: skip
    if not conditions and not allow_empty:
        return ["This map is empty: it would always hold. Name at least one fact."]
    problems = []
    for name, values in conditions.items():
        if name == ROLES:
            problems.append("“roles” is not a condition: who owes the duty goes in roles.")
            continue
        if name not in _vocabulary:
            problems.append(_unknown_fact(name))
            continue
        allowed = _vocabulary[name]
        example = f"[{_show(allowed[0])}]" if allowed else "[a value]"
        if not isinstance(values, list) or not values:
            problems.append(f"Write the values of “{name}” as a list, such as {example}.")
            continue
        if allowed is None:
            bad = [v for v in values if not _is_plain(v)]
        else:
            bad = [v for v in values if not _allowed(v, allowed)]
        if bad:
            shown = ", ".join(_show(v) if _is_plain(v) else type(v).__name__ for v in bad)
            known = _words(allowed) if allowed else "text, a number, true or false"
            problems.append(f"Unknown value(s) of “{name}”: {shown}. Allowed: {known}.")
    return problems


def _check_maps(maps: Any, field: str) -> list[str]:
    if not isinstance(maps, list):
        return [f"Write {field} as a list of condition maps, such as "
                "[{“public_body”: [true]}], or leave it empty."]  # fmt: skip
    return [
        f"Map {number}: {problem}"
        for number, conditions in enumerate(maps, start=1)
        for problem in _check_map(conditions, allow_empty=False)
    ]


def _check_roles(roles: Any) -> list[str]:
    known = _vocabulary.get(ROLES) or ()
    if not isinstance(roles, list) or not roles:
        example = known[0] if known else "provider"
        return [f"Name who owes the duty as a list of roles, such as [{example}]."]
    bad = [r for r in roles if not (isinstance(r, str) and r in known)]
    if bad:
        shown = ", ".join(str(r).replace("\x00", "")[:40] for r in bad)
        return [f"Unknown role(s): {shown}. Roles: {', '.join(known)}."]
    if len(set(roles)) != len(roles):
        return ["Name each role once."]
    return []


def validate_conditions(*, roles: Any, when: Any, when_any: Any, unless: Any) -> None:
    """Raise ValidationError({field: [messages]}) unless the roles and conditions are sound.

    `when`: a map {fact: [values]}, every fact must match (empty: no condition); `when_any`: a
    list of such maps, one must match (empty: no condition); `unless`: a list of such maps,
    none may match. Values are lists, booleans included (`public_body: [true]`).
    """
    if not _vocabulary:
        raise ValidationError(
            "No fact vocabulary is registered: the workspace app registers it at start-up "
            "(tracker/workspace/apps.py). Conditions cannot be checked without it."
        )
    errors = {
        ROLES: _check_roles(roles),
        "when": _check_map({} if when is None else when, allow_empty=True),
        "when_any": _check_maps([] if when_any is None else when_any, "when_any"),
        "unless": _check_maps([] if unless is None else unless, "unless"),
    }
    errors = {field: problems for field, problems in errors.items() if problems}
    if errors:
        raise ValidationError(errors)
