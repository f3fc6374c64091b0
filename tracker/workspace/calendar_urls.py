"""The private calendar feeds' routes and their thin views: the organisation's under
/w/<slug>/calendar/, the person's own page at /w/<slug>/calendar/mine/ and its feed at
/w/calendar/<secret>.ics (spliced into urls.py like evidence_urls and token_urls). The models,
services and the feeds themselves are in calendar_feed.py; the views stay here because they
read the membership and the person's reminder settings, which calendar_feed.py may not import
(models.py imports it)."""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.cache import get_conditional_response, patch_cache_control
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_safe
from icalendar import Calendar

from tracker.reminders.personal import personal_settings_many
from tracker.workspace.calendar_feed import (
    CalendarFeed,
    PersonCalendarFeed,
    calendar_etag,
    calendar_feed_find,
    calendar_feed_revoke,
    calendar_feed_rotate,
    organisation_calendar_build,
    person_calendar_build,
    person_calendar_feed_find,
    person_calendar_feed_revoke,
    person_calendar_feed_rotate,
)
from tracker.workspace.mail_settings import owner_key
from tracker.workspace.models import Membership
from tracker.workspace.selectors import membership_get


def person_lead_days(user_id: int, organisation_ids: Iterable[int]) -> dict[int, tuple[int, ...]]:
    """The person's deadline-reminder lead times in each organisation, in one query: their
    own, the defaults when they never set any, none when they turned the reminders off."""
    keys = {owner_key(organisation_id=pk, user_id=user_id): pk for pk in organisation_ids}
    found = personal_settings_many(keys=list(keys))
    return {pk: found[key].lead_days if found[key].enabled else () for key, pk in keys.items()}


def _feed_response(request, calendar: Calendar) -> HttpResponse:
    """The feed, or a 304 when the calendar app already has this body. Private (the address
    is a secret): no shared cache keeps it, browsers and apps revalidate every time."""
    body = calendar.to_ical()
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["ETag"] = calendar_etag(body)
    patch_cache_control(response, private=True, no_cache=True)
    response = get_conditional_response(request, etag=response["ETag"], response=response)
    response["X-Robots-Tag"] = "noindex"
    response["Referrer-Policy"] = "no-referrer"
    return response


def _addresses(request, path_: str) -> dict:
    return {
        "feed_url": request.build_absolute_uri(path_),
        "webcal_url": f"webcal://{request.get_host()}{path_}",
    }


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def calendar_settings(request, slug):
    """The organisation's private feed: whether it has one; owners make, rotate or revoke it.
    A new address is shown once, in the answer to the POST that made it."""
    membership = membership_get(user=request.user, slug=slug)
    org = membership.organisation
    is_owner = membership.role == Membership.Role.OWNER
    secret, revoked = None, False
    if request.method == "POST":
        if not is_owner:
            raise PermissionDenied("Only owners can change the calendar address.")
        action = request.POST.get("action")
        if action == "rotate":
            secret = calendar_feed_rotate(organisation=org, by=request.user)
        elif action == "revoke":
            revoked = calendar_feed_revoke(organisation=org)
        else:
            return HttpResponse("Unknown action.", status=400, content_type="text/plain")
    feed = CalendarFeed.objects.filter(organisation=org).select_related("created_by").first()
    mine = PersonCalendarFeed.objects.filter(user=request.user).exists()
    context = {"org": org, "membership": membership, "is_owner": is_owner, "feed": feed,
               "revoked": revoked, "has_own_feed": mine}  # fmt: skip
    if secret is not None:
        path_ = reverse("workspace:calendar_feed", kwargs={"slug": org.slug, "secret": secret})
        context.update(_addresses(request, path_))
    return render(request, "workspace/calendar/settings.html", context)


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def my_calendar(request, slug):
    """The person's own feed (what they own, in every organisation): they alone make, rotate
    or revoke it, whatever their role. A new address is shown once."""
    membership = membership_get(user=request.user, slug=slug)
    secret, revoked = None, False
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "rotate":
            secret = person_calendar_feed_rotate(user=request.user)
        elif action == "revoke":
            revoked = person_calendar_feed_revoke(user=request.user)
        else:
            return HttpResponse("Unknown action.", status=400, content_type="text/plain")
    feed = PersonCalendarFeed.objects.filter(user=request.user).first()
    context = {"org": membership.organisation, "membership": membership, "feed": feed,
               "revoked": revoked}  # fmt: skip
    if secret is not None:
        context.update(_addresses(request, reverse("workspace:my_calendar_feed", args=[secret])))
    return render(request, "workspace/calendar/mine.html", context)


@require_safe
def calendar_feed(request, slug, secret):
    """The organisation's private .ics feed; a wrong, rotated or revoked secret is a 404."""
    feed = calendar_feed_find(slug=slug, secret=secret)
    if feed is None:
        raise Http404("No such calendar.")
    calendar = organisation_calendar_build(organisation=feed.organisation, now=timezone.now())
    return _feed_response(request, calendar)


@require_safe
def my_calendar_feed(request, secret):
    """A person's own .ics feed; a wrong, rotated or revoked secret is a 404."""
    feed = person_calendar_feed_find(secret=secret)
    if feed is None:
        raise Http404("No such calendar.")
    user = feed.user
    calendar = person_calendar_build(
        user=user, now=timezone.now(),
        lead_days=lambda organisations: person_lead_days(user.pk, organisations),
    )  # fmt: skip
    return _feed_response(request, calendar)


urlpatterns: list = [
    path("calendar/<slug:secret>.ics", my_calendar_feed, name="my_calendar_feed"),
    path("<slug:slug>/calendar/", calendar_settings, name="calendar"),
    path("<slug:slug>/calendar/mine/", my_calendar, name="my_calendar"),
    path("<slug:slug>/calendar/<slug:secret>.ics", calendar_feed, name="calendar_feed"),
]
