"""The owner's webhook pages under /w/<slug>/webhooks/: thin views over services and
selectors. Members may look; only owners change anything; outsiders get a 404."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from tracker.webhooks import services
from tracker.webhooks.forms import EndpointForm
from tracker.webhooks.models import EVENT_TYPES
from tracker.webhooks.selectors import (
    attempts_for,
    endpoint_get,
    endpoints_for,
    webhooks_membership,
)
from tracker.workspace.models import Membership

LOG_PAGE = 50
NOTICES = {
    "created": "The endpoint was added. Send a test event to check it.",
    "saved": "The endpoint was saved.",
    "test": "A test event is queued: it is delivered within seconds, and its outcome shows "
    "in the delivery log below (reload the page).",
    "enabled": "The endpoint is enabled again; failures count from zero.",
    "rotated": "A new secret was made. Deliveries carry a signature with the old secret too "
    "for 24 hours, so you can switch your receiver without missing any.",
}


def _context(membership, **extra) -> dict:
    return {"org": membership.organisation, "membership": membership,
            "is_owner": membership.role == Membership.Role.OWNER,
            "event_types": EVENT_TYPES, **extra}  # fmt: skip


def _detail(slug: str, pk: int, done: str) -> HttpResponse:
    return redirect(reverse("webhooks:detail", kwargs={"slug": slug, "pk": pk}) + f"?done={done}")


@never_cache
@login_required
@require_safe
def endpoint_list(request, slug):
    membership = webhooks_membership(user=request.user, slug=slug)
    endpoints = list(endpoints_for(organisation=membership.organisation))
    return render(request, "webhooks/list.html", _context(membership, endpoints=endpoints))


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def endpoint_new(request, slug):
    membership = webhooks_membership(user=request.user, slug=slug, write=True)
    form = EndpointForm(request.POST if request.method == "POST" else None)
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            endpoint = services.endpoint_create(
                organisation=membership.organisation, name=data["name"], url=data["url"],
                format=data["format"], events=data["events"], by=request.user,
            )  # fmt: skip
            return _detail(slug, endpoint.pk, "created")
        return render(request, "webhooks/form.html", _context(membership, form=form), status=400)
    return render(request, "webhooks/form.html", _context(membership, form=form))


@never_cache
@login_required
@require_safe
def endpoint_detail(request, slug, pk):
    membership = webhooks_membership(user=request.user, slug=slug)
    endpoint = endpoint_get(membership=membership, pk=pk)
    page = Paginator(attempts_for(endpoint=endpoint), LOG_PAGE).get_page(request.GET.get("page"))
    notice = NOTICES.get(request.GET.get("done", ""))
    return render(request, "webhooks/detail.html", _context(
        membership, endpoint=endpoint, page=page, notice=notice,
        rotated=request.GET.get("done") == "rotated",
    ))  # fmt: skip


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def endpoint_edit(request, slug, pk):
    membership = webhooks_membership(user=request.user, slug=slug, write=True)
    endpoint = endpoint_get(membership=membership, pk=pk)
    form = EndpointForm(request.POST if request.method == "POST" else None, instance=endpoint)
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            services.endpoint_update(
                endpoint=endpoint, name=data["name"], url=data["url"], format=data["format"],
                events=data["events"],
            )  # fmt: skip
            return _detail(slug, endpoint.pk, "saved")
        endpoint.refresh_from_db()  # the form wrote its input on the instance
        return render(request, "webhooks/form.html",
                      _context(membership, form=form, endpoint=endpoint), status=400)  # fmt: skip
    return render(request, "webhooks/form.html", _context(membership, form=form, endpoint=endpoint))


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def endpoint_delete(request, slug, pk):
    """Asks first (GET), deletes on POST."""
    membership = webhooks_membership(user=request.user, slug=slug, write=True)
    endpoint = endpoint_get(membership=membership, pk=pk)
    if request.method == "POST":
        services.endpoint_delete(endpoint=endpoint)
        return redirect(reverse("webhooks:list", kwargs={"slug": slug}) + "?done=deleted")
    return render(request, "webhooks/delete.html", _context(membership, endpoint=endpoint))


@never_cache
@login_required
@require_POST
def endpoint_action(request, slug, pk, action):
    """Rotate the secret, send a test event or enable again (owners; POST only)."""
    membership = webhooks_membership(user=request.user, slug=slug, write=True)
    endpoint = endpoint_get(membership=membership, pk=pk)
    if action == "rotate":
        services.endpoint_secret_rotate(endpoint=endpoint)
        return _detail(slug, pk, "rotated")
    if action == "test":
        if not endpoint.enabled:
            return HttpResponse("Enable the endpoint before testing it.", status=400,
                                content_type="text/plain")  # fmt: skip
        with transaction.atomic():
            services.endpoint_test(endpoint=endpoint, by=request.user)
        return _detail(slug, pk, "test")
    if action == "enable":
        services.endpoint_enable(endpoint=endpoint)
        return _detail(slug, pk, "enabled")
    return HttpResponse("Unknown action.", status=400, content_type="text/plain")
