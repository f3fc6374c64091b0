from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from tracker.catalogue.selectors import regulation_default
from tracker.reminders.emails import subscription_links
from tracker.reminders.forms import PreferencesForm, SubscribeForm
from tracker.reminders.selectors import milestone_picker, subscription_summary
from tracker.reminders.services import subscription_unsubscribe
from tracker.reminders.subscriptions import (
    subscription_confirm,
    subscription_request,
    subscription_update,
)
from tracker.reminders.throttles import SubscribeThrottle
from tracker.reminders.tokens import CONFIRM, MANAGE, UNSUBSCRIBE, subscription_from_token
from tracker.reminders.validation import local_today


def _initial(request) -> dict:
    """Pre-fill from a link: ?milestone=<key> (from a milestone page) or ?regulation=<key>."""
    if milestone := request.GET.get("milestone"):
        return {"regulation": None, "milestones": [milestone]}
    default = regulation_default()
    return {"regulation": request.GET.get("regulation") or (default and default.key)}


def _picker(form) -> dict:
    """The grouped milestone picker (deadlines still ahead) and what is ticked in it."""
    if form.is_bound:
        chosen = set(form.data.getlist("milestones"))
    else:
        chosen = {getattr(m, "key", m) for m in form.initial.get("milestones") or []}
    return {
        "picker": milestone_picker(today=local_today(None)),
        "chosen": chosen,
        "timezone_names": form.timezone_names(),
    }


def _invalid_link(request):
    return render(request, "reminders/link_invalid.html", status=404)


@require_http_methods(["GET", "POST"])
def subscribe(request):
    """The public subscribe form; the answer never says whether an address is known."""
    form = SubscribeForm(request.POST or None, initial=_initial(request))
    if request.method == "POST":
        throttle = SubscribeThrottle()
        if not throttle.allow_request(request, None):
            context = {"form": form, "throttled": True, **_picker(form)}
            return render(request, "reminders/subscribe.html", context, status=429)
        if form.is_valid():
            subscription_request(email=form.cleaned_data["email"], preferences=form.preferences())
            return redirect("reminders:check_inbox")
    return render(request, "reminders/subscribe.html", {"form": form, **_picker(form)},
                  status=400 if form.errors else 200)  # fmt: skip


def check_inbox(request):
    return render(request, "reminders/check_inbox.html")


@require_http_methods(["GET", "POST"])
def confirm(request, token):
    """GET shows a button (link scanners must not confirm for someone); POST confirms."""
    subscription = subscription_from_token(token=token, purpose=CONFIRM)
    if subscription is None:
        return _invalid_link(request)
    if request.method == "POST":
        if not subscription_confirm(subscription=subscription):
            return _invalid_link(request)
        links = subscription_links(subscription)
        summary = subscription_summary(
            subscription=subscription, today=local_today(subscription.timezone)
        )
        context = {"subscription": subscription, "summary": summary, **links}
        return render(request, "reminders/confirmed.html", context)
    return render(request, "reminders/confirm.html", {"subscription": subscription})


@require_http_methods(["GET", "POST"])
def manage(request, token):
    """Change preferences from the signed link in any email, without an account."""
    subscription = subscription_from_token(token=token, purpose=MANAGE)
    if subscription is None or subscription.status == subscription.Status.UNSUBSCRIBED:
        return _invalid_link(request)
    if subscription.owner_key:  # personal reminders are set where they were asked for
        return redirect(subscription.manage_url)
    initial = PreferencesForm.initial_for(subscription)
    form = PreferencesForm(request.POST or None, initial=initial, followed=initial["milestones"])
    saved = False
    if request.method == "POST" and form.is_valid():
        subscription_update(subscription=subscription, preferences=form.preferences())
        saved = True
    summary = subscription_summary(
        subscription=subscription, today=local_today(subscription.timezone)
    )
    context = {"form": form, "subscription": subscription, "saved": saved, "summary": summary,
               **_picker(form), **subscription_links(subscription)}  # fmt: skip
    return render(request, "reminders/manage.html", context, status=400 if form.errors else 200)


@csrf_exempt  # RFC 8058: mail clients POST here without a CSRF token; the signed token is the proof
@require_http_methods(["GET", "POST"])
def unsubscribe(request, token):
    """One-click unsubscribe: GET shows a button (link scanners must not unsubscribe), POST acts."""
    subscription = subscription_from_token(token=token, purpose=UNSUBSCRIBE)
    if subscription is None:
        return _invalid_link(request)
    if request.method == "POST":
        subscription_unsubscribe(subscription=subscription)
        return render(request, "reminders/unsubscribed.html", {"subscription": subscription})
    return render(request, "reminders/unsubscribe.html", {"subscription": subscription})
