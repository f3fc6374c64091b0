"""The private calendar feed's routes and their two thin views, under /w/<slug>/calendar/
(spliced into urls.py like evidence_urls and token_urls). The model, services and the feed
itself are in calendar_feed.py; the views stay here because they read the membership
(selectors.py), which calendar_feed.py may not import (models.py imports it)."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import path, reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_safe

from tracker.workspace.calendar_feed import (
    CalendarFeed,
    calendar_feed_find,
    calendar_feed_revoke,
    calendar_feed_rotate,
    organisation_calendar_build,
)
from tracker.workspace.models import Membership
from tracker.workspace.selectors import membership_get


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
    context = {"org": org, "membership": membership, "is_owner": is_owner, "feed": feed,
               "revoked": revoked}  # fmt: skip
    if secret is not None:
        path_ = reverse("workspace:calendar_feed", kwargs={"slug": org.slug, "secret": secret})
        context["feed_url"] = request.build_absolute_uri(path_)
        context["webcal_url"] = f"webcal://{request.get_host()}{path_}"
    return render(request, "workspace/calendar/settings.html", context)


@never_cache
@require_safe
def calendar_feed(request, slug, secret):
    """The organisation's private .ics feed; a wrong, rotated or revoked secret is a 404."""
    feed = calendar_feed_find(slug=slug, secret=secret)
    if feed is None:
        raise Http404("No such calendar.")
    calendar = organisation_calendar_build(organisation=feed.organisation, now=timezone.now())
    response = HttpResponse(calendar.to_ical(), content_type="text/calendar; charset=utf-8")
    response["X-Robots-Tag"] = "noindex"
    return response


urlpatterns: list = [
    path("<slug:slug>/calendar/", calendar_settings, name="calendar"),
    path("<slug:slug>/calendar/<slug:secret>.ics", calendar_feed, name="calendar_feed"),
]
