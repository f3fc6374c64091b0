"""Reads for the webhook pages, each a fixed number of queries, and the one write guard."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db.models import OuterRef, QuerySet, Subquery
from django.shortcuts import get_object_or_404

from tracker.webhooks.models import DeliveryAttempt, Endpoint
from tracker.workspace.models import Membership
from tracker.workspace.selectors import membership_get

OWNERS_ONLY = "Only owners of this organisation can change its webhooks."


def webhooks_membership(*, user, slug: str, write: bool = False) -> Membership:
    """The person's membership (404 for outsiders); with `write`, 403 unless an owner."""
    membership = membership_get(user=user, slug=slug)
    if write and membership.role != Membership.Role.OWNER:
        raise PermissionDenied(OWNERS_ONLY)
    return membership


def endpoint_get(*, membership: Membership, pk: int) -> Endpoint:
    """One endpoint of the membership's organisation, or 404."""
    return get_object_or_404(
        Endpoint.objects.select_related("organisation"), pk=pk,
        organisation=membership.organisation,
    )  # fmt: skip


def endpoints_for(*, organisation) -> QuerySet[Endpoint]:
    """The organisation's endpoints with their latest attempt (when, outcome, status code):
    one query."""
    latest = DeliveryAttempt.objects.filter(endpoint=OuterRef("pk")).order_by("-at", "-pk")
    return organisation.webhook_endpoints.annotate(
        last_at=Subquery(latest.values("at")[:1]),
        last_outcome=Subquery(latest.values("outcome")[:1]),
        last_code=Subquery(latest.values("status_code")[:1]),
    ).order_by("name", "pk")


def attempts_for(*, endpoint: Endpoint) -> QuerySet[DeliveryAttempt]:
    """The endpoint's delivery log, newest first, with each delivery's event and id."""
    return (
        DeliveryAttempt.objects.filter(endpoint=endpoint)
        .select_related("delivery")
        .only(
            "at",
            "status_code",
            "duration_ms",
            "outcome",
            "error",
            "response_excerpt",
            "delivery__event_type",
            "delivery__webhook_id",
            "delivery__status",
            "delivery__attempts",
        )
        .order_by("-at", "-pk")
    )
