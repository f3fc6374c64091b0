"""When an item stops applying: what changed, said in words, and the one email its owner gets.

The services that change what a company is (its facts, its AI systems) describe the change
here (`system_change_words`, `company_change_words`); `services.tracking_sync` records the
sentence on every item the change makes stop applying, with the date, and emails each owner
once through the outbox. A notice still queued when the item applies again is withdrawn: it is
no longer true.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.contrib.auth import get_user_model
from django.urls import reverse

from tracker.accounts.verification import verified_users
from tracker.catalogue.models import Milestone
from tracker.outbox import services as outbox
from tracker.outbox.models import Message
from tracker.workspace.models import AISystem, CompanyRole, Organisation, TrackedItem
from tracker.workspace.notifications import workspace_message

ITEM_STOPPED = "item_stopped"
# What the rules read about a system (its name and purpose only name it).
SYSTEM_FACTS = (
    "roles", "risk_class", "annex_iii_point", "annex_i_section", "art50", "is_gpai_model",
    "gpai_systemic_risk", "open_source", "placed_on_market", "intended_for_public_authorities",
    "art25",
)  # fmt: skip
SUBORDINATE = ("annex_iii_point", "annex_i_section")  # details of a risk class
COMPANY_FACTS = ("established_in_eu", "public_body", "provides_public_services")
HIGH_RISK = {AISystem.RiskClass.HIGH_RISK_ANNEX_III, AISystem.RiskClass.HIGH_RISK_ANNEX_I}
FALLBACK_CAUSE = "the catalogue or the facts recorded changed"


def _role_words(roles) -> str:
    labels = dict(CompanyRole.choices)
    return ", ".join(labels.get(role, role).lower() for role in roles) or "none recorded"


def _day(value: dt.date | None) -> str:
    return f"{value.day} {value:%B %Y}" if value else "no date"


def _choices(field: str, values) -> str:
    labels = dict(AISystem._meta.get_field(field).choices or [])
    if field == "art50":
        labels = dict(AISystem.Art50.choices)
    elif field == "art25":
        labels = dict(AISystem.Art25.choices)
    return "; ".join(f"“{labels.get(v, v)}”" for v in values)


def _system_clause(field: str, name: str, old, new) -> str:
    verbose = str(AISystem._meta.get_field(field).verbose_name)
    if field == "risk_class":
        labels = dict(AISystem.RiskClass.choices)
        if old in HIGH_RISK and new not in HIGH_RISK:
            return f"the system {name} is no longer high-risk (now “{labels.get(new, new)}”)"
        return (
            f"the risk class of {name} changed from “{labels.get(old, old)}” to "
            f"“{labels.get(new, new)}”"
        )
    if field == "roles":
        return f"our roles for {name} changed from {_role_words(old)} to {_role_words(new)}"
    if field in ("art50", "art25"):
        removed = [v for v in old if v not in new]
        added = [v for v in new if v not in old]
        said = [f"no longer {_choices(field, removed)}" if removed else "",
                f"now {_choices(field, added)}" if added else ""]  # fmt: skip
        return f"the {verbose} of {name} changed: " + ", ".join(s for s in said if s)
    if field == "placed_on_market":
        return f"the date {name} was placed on the market changed from {_day(old)} to {_day(new)}"
    if isinstance(new, bool):
        return f"{name} is {'now' if new else 'no longer'} recorded as “{verbose}”"
    labels = dict(AISystem._meta.get_field(field).choices or [])
    return (
        f"the {verbose} of {name} changed from “{labels.get(old, old) or '—'}” to "
        f"“{labels.get(new, new) or '—'}”"
    )


def _same(old, new) -> bool:
    if isinstance(old, list) and isinstance(new, list):
        return sorted(map(str, old)) == sorted(map(str, new))
    return old == new


def system_change_words(*, before: AISystem | None, after: AISystem) -> str:
    """What changed about a system, as the end of "…since <this>": a clause per fact."""
    name = f"“{after.name}”"
    if before is None:
        return f"the system {name} was added"
    changed = [f for f in SYSTEM_FACTS if not _same(getattr(before, f), getattr(after, f))]
    # A detail that only went with the old answer says nothing more ("point 4(a)" → "—").
    if "risk_class" in changed:
        changed = [f for f in changed if getattr(after, f) or f not in SUBORDINATE]
    if "is_gpai_model" in changed and not after.is_gpai_model:
        changed = [f for f in changed if f not in ("gpai_systemic_risk", "open_source")]
    clauses = [
        _system_clause(field, name, getattr(before, field), getattr(after, field))
        for field in changed
    ]
    return "; ".join(clauses) or f"the system {name} was edited"


def system_removed_words(*, system: AISystem) -> str:
    return f"the system “{system.name}” was removed from the inventory"


def company_change_words(*, before: dict, after: Organisation) -> str:
    """What changed in the company's own facts (`before`: field name to old value)."""
    clauses = []
    for field in COMPANY_FACTS:
        new = getattr(after, field)
        if before.get(field) != new:
            verbose = str(Organisation._meta.get_field(field).verbose_name)
            clauses.append(
                f"the company is {'now' if new else 'no longer'} recorded as “{verbose}”"
            )
    return "; ".join(clauses) or "the company's facts were saved"


def stop_reason(*, milestone: Milestone, selected: bool, cause: str) -> str:
    """Why an item no longer applies, in one sentence.

    `selected`: the rules still name its milestone, so the catalogue withdrew it.
    """
    if selected:
        return (
            f"The catalogue now marks this milestone “{milestone.get_status_display().lower()}”: "
            "it is no longer a date to meet."
        )
    return f"The rules no longer select it since {cause or FALLBACK_CAUSE}."


def _item_url(item: TrackedItem) -> str:
    return settings.SITE_URL + reverse(
        "workspace:item", kwargs={"slug": item.organisation.slug, "pk": item.pk}
    )


def item_stopped_notices(*, items: list[TrackedItem], now: dt.datetime) -> int:
    """Email each owner once about each item that just stopped applying (dispatched after
    commit). A one-off notice, not list mail: it has no stop link."""
    messages = []
    owner_ids = {item.owner_id for item in items if item.owner_id is not None}
    reachable = (
        set(
            verified_users(get_user_model().objects.filter(pk__in=owner_ids)).values_list(
                "pk", flat=True
            )
        )
        if owner_ids
        else set()
    )
    for item in items:
        if item.owner_id not in reachable:  # no owner, or an address nobody proved
            continue
        key = f"stopped:{item.pk}:{item.stopped_at:%Y%m%dT%H%M%S%f}"
        context = {"item": item, "milestone": item.milestone, "url": _item_url(item),
                   "timeline_url": settings.SITE_URL + reverse(
                       "workspace:timeline", kwargs={"slug": item.organisation.slug})}  # fmt: skip
        try:
            messages.append(workspace_message(
                ITEM_STOPPED, to_email=item.owner.email, key=key, context=context, now=now,
                topic=f"item:{item.pk}",
            ))  # fmt: skip
        except Exception as exc:  # one item's notice fails alone, where the admin sees it
            outbox.failure_record(
                to=item.owner.email, kind=ITEM_STOPPED, error=exc, dedupe_key=key,
                what=f"“no longer applies” notice for item #{item.pk}", topic=f"item:{item.pk}",
            )  # fmt: skip
    return len(outbox.send_many(messages))


def item_stopped_withdraw(*, items: list[TrackedItem]) -> int:
    """Cancel the notices still queued about items that apply again."""
    if not items:
        return 0
    queued = Message.objects.filter(
        kind=ITEM_STOPPED, topic__in=[f"item:{item.pk}" for item in items]
    )
    return len(outbox.messages_cancel(queued, reason="Not sent: the item applies again."))
