"""How django-axes sees a sign-in attempt: which account, which client, and the page it shows.

An account counts once however it is named: "ada", "ada@example.org" and "ADA@example.org"
are one account's failures, so trying the address and the username does not double the
guesses. A name that matches no account is counted as typed (lower-cased), and the lockout
page never shows what it was resolved to, so it tells nothing about which accounts exist.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.shortcuts import render

from tracker.accounts.backends import users_for_login

_CACHE = "_jalon_attempted_account"


def attempted_account(request, credentials: dict | None) -> str | None:
    """AXES_USERNAME_CALLABLE: the account an attempt is about, one name per account."""
    field = get_user_model().USERNAME_FIELD
    typed = (credentials or {}).get(field)
    if typed is None and request is not None:
        typed = getattr(request, "POST", {}).get(field)
    if not typed:
        return None
    typed = str(typed).strip()
    cache = getattr(request, _CACHE, None) if request is not None else None
    if cache is not None and cache[0] == typed:
        return cache[1]
    users = users_for_login(typed)
    resolved = users[0].get_username() if len(users) == 1 else typed.lower()
    if request is not None:
        setattr(request, _CACHE, (typed, resolved))
    return resolved


def client_address(request) -> str | None:
    """AXES_CLIENT_IP_CALLABLE: the client's address, as the API throttles see it.

    X-Forwarded-For is believed only behind TRUSTED_PROXIES proxies (the REST framework's
    NUM_PROXIES): otherwise anyone could pose as another client, or lock one out.
    """
    remote = request.META.get("REMOTE_ADDR")
    proxies = settings.REST_FRAMEWORK.get("NUM_PROXIES") or 0
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR")
    if proxies and forwarded:
        addresses = [a.strip() for a in forwarded.split(",") if a.strip()]
        if addresses:
            return addresses[-min(proxies, len(addresses))]
    return remote


def lockout_response(request, original_response=None, credentials=None):
    """AXES_LOCKOUT_CALLABLE: a page that says what happened and when to try again (429)."""
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    return render(
        request, "accounts/locked_out.html",
        {"minutes": minutes, "failure_limit": settings.AXES_FAILURE_LIMIT}, status=429,
    )  # fmt: skip
