"""Writes for the workspace: organisations, members, the inventory, tracking and incidents."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from tracker.catalogue.models import LIVE_STATUSES, Milestone
from tracker.workspace import applicability
from tracker.workspace.models import AISystem, Incident, Membership, Organisation, TrackedItem
from tracker.workspace.notifications import owner_reminders_sync


@transaction.atomic
def organisation_create(*, name: str, owner: AbstractBaseUser) -> Organisation:
    """A new organisation with its creator as owner; the slug is made unique."""
    base = slugify(name)[:50] or "organisation"
    slug, n = base, 1
    while Organisation.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    organisation = Organisation.objects.create(name=name.strip(), slug=slug)
    Membership.objects.create(organisation=organisation, user=owner, role=Membership.Role.OWNER)
    return organisation


def _facts(organisation: Organisation) -> applicability.CompanyFacts:
    return applicability.CompanyFacts(
        roles=frozenset(organisation.roles),
        systems=tuple(
            applicability.SystemFacts(
                key=str(system.pk),
                name=system.name,
                risk_class=system.risk_class,
                annex_iii_area=system.annex_iii_area,
                is_gpai_model=system.is_gpai_model,
                gpai_systemic_risk=system.gpai_systemic_risk,
                generative=system.generative,
                placed_on_market=system.placed_on_market,
                used_by_public_authority=system.used_by_public_authority,
            )
            for system in organisation.systems.all()
        ),
    )


@transaction.atomic
def tracking_sync(*, organisation: Organisation) -> dict[str, int]:
    """Bring the tracked items in line with what applies now.

    New obligations get an item; ones that no longer apply are marked so, not deleted (their
    history and notes stay); reasons are refreshed. Run after every profile or inventory edit.
    """
    found = {a.milestone_key: a for a in applicability.applicable_milestones(_facts(organisation))}
    # Only live milestones are tracked: a withdrawn or superseded one retires its items.
    milestones = Milestone.objects.filter(status__in=LIVE_STATUSES).in_bulk(
        list(found), field_name="key"
    )
    existing = {item.milestone.key: item for item in organisation.items.select_related("milestone")}
    counts = {"added": 0, "updated": 0, "retired": 0}
    for key, result in found.items():
        if key not in milestones:
            continue  # a rule names a milestone this catalogue does not have (yet)
        reasons = [
            {"rule": r.rule, "article": r.article, "text": r.explanation, "system": r.system_key}
            for r in result.reasons
        ]
        item = existing.get(key)
        if item is None:
            TrackedItem.objects.create(
                organisation=organisation, milestone=milestones[key], reasons=reasons
            )
            counts["added"] += 1
        elif item.reasons != reasons or not item.applies:
            item.reasons, item.applies = reasons, True
            item.save(update_fields=["reasons", "applies"])
            counts["updated"] += 1
    for key, item in existing.items():
        if key not in milestones and item.applies:
            item.applies = False
            item.save(update_fields=["applies"])
            counts["retired"] += 1
    return counts


@transaction.atomic
def system_save(*, system: AISystem) -> AISystem:
    """Create or change an AI system, then recompute what applies."""
    system.full_clean()
    system.save()
    tracking_sync(organisation=system.organisation)
    return system


@transaction.atomic
def organisation_set_roles(*, organisation: Organisation, roles: list[str]) -> None:
    organisation.roles = sorted(set(roles))
    organisation.save(update_fields=["roles"])
    tracking_sync(organisation=organisation)


@transaction.atomic
def item_update(*, item: TrackedItem, by: AbstractBaseUser, **changes) -> TrackedItem:
    """Change an item's status, owner, target date, notes or evidence; kept in its history.

    The owner's reminders follow: a new owner starts getting them, a done item stops them.
    """
    previous_owner = item.owner
    for name, value in changes.items():
        setattr(item, name, value)
    item.changed_in_catalogue = False  # whoever edits it has seen the current date
    item._history_user = by
    item.full_clean()
    item.save()
    for owner in {previous_owner, item.owner} - {None}:
        owner_reminders_sync(organisation=item.organisation, user=owner)
    return item


@transaction.atomic
def incident_record(
    *, organisation: Organisation, system: AISystem, kind: str, aware_at: dt.datetime,
    description: str, owner: AbstractBaseUser | None,
) -> Incident:  # fmt: skip
    incident = Incident(
        organisation=organisation, system=system, kind=kind, aware_at=aware_at,
        description=description.strip(), owner=owner,
    )  # fmt: skip
    incident.full_clean()
    incident.save()
    return incident


def incident_mark_reported(*, incident: Incident) -> None:
    Incident.objects.filter(pk=incident.pk, reported_at=None).update(reported_at=timezone.now())
