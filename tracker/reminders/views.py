from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from tracker.reminders.services import subscription_unsubscribe
from tracker.reminders.tokens import UNSUBSCRIBE, subscription_from_token


@csrf_exempt  # RFC 8058: mail clients POST here without a CSRF token; the signed token is the proof
@require_http_methods(["GET", "POST"])
def unsubscribe(request, token):
    """One-click unsubscribe: GET shows a button (link scanners must not unsubscribe), POST acts."""
    subscription = subscription_from_token(token=token, purpose=UNSUBSCRIBE)
    if subscription is None:
        return render(request, "reminders/link_invalid.html", status=404)
    if request.method == "POST":
        subscription_unsubscribe(subscription=subscription)
        return render(request, "reminders/unsubscribed.html", {"subscription": subscription})
    return render(request, "reminders/unsubscribe.html", {"subscription": subscription})
