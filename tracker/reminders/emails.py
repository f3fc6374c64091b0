"""Rendering emails: one name, three templates (subject, text, HTML), one folder per language."""

from __future__ import annotations

import datetime as dt
import functools
import re
import secrets
from collections.abc import Hashable

from django.conf import settings
from django.template import Context
from django.template.loader import get_template, render_to_string
from django.urls import get_script_prefix, reverse
from django.utils import translation
from django.utils.html import escape

from tracker.outbox import services as outbox
from tracker.outbox.models import Message
from tracker.outbox.services import subject_line
from tracker.reminders.models import Subscription
from tracker.reminders.tokens import MANAGE, UNSUBSCRIBE, subscription_token

# The kinds of email the reminder engine sends (its own labels in the outbox).
REMINDERS = "reminders"
DATE_MOVED = "date_moved"
CONFIRMATION = "confirmation"
DIGEST = "digest"  # the weekly digest, for subscribers who chose it over single reminders
MANAGE_LINK = "manage"  # the email with a manage link, sent on a repeat request


def subscription_stream(subscription: Subscription) -> str:
    """The outbox stream of a subscription: what its unsubscribe link stops."""
    return f"subscription:{subscription.pk}"


# What a signed token is made of (URL-safe base64, the signer's ":" and the "." of a
# compressed payload): reverse() puts it into the path unchanged.
_TOKEN_CHARS = re.compile(r"[A-Za-z0-9_\-:.]+")
_TOKEN_STAND_IN = "jalonTOKEN0"  # noqa: S105 (a stand-in in a URL, not a secret)


@functools.lru_cache(maxsize=32)
def _link_around(name: str, script_prefix: str, site_url: str) -> tuple[str, str]:
    """The absolute link of `name` before and after its token, reversed once per process."""
    url = site_url + reverse(f"reminders:{name}", kwargs={"token": _TOKEN_STAND_IN})
    before, _, after = url.partition(_TOKEN_STAND_IN)
    return before, after


def token_link(name: str, token: str) -> str:
    """settings.SITE_URL + reverse(name, token), without resolving the pattern every time."""
    if not _TOKEN_CHARS.fullmatch(token):
        return settings.SITE_URL + reverse(f"reminders:{name}", kwargs={"token": token})
    before, after = _link_around(name, get_script_prefix(), settings.SITE_URL)
    return before + token + after


def subscription_links(subscription: Subscription) -> dict[str, str]:
    """Absolute, signed manage and unsubscribe links for the footer of every email."""

    def link(name: str, purpose: str) -> str:
        return token_link(name, subscription_token(subscription=subscription, purpose=purpose))

    return {
        # Personal reminders are managed where the person set them up (their workspace).
        "manage_url": subscription.manage_url or link("manage", MANAGE),
        "unsubscribe_url": link("unsubscribe", UNSUBSCRIBE),
    }


def unsubscribe_headers(unsubscribe_url: str) -> dict[str, str]:
    """RFC 8058 one-click unsubscribe headers."""
    return {
        "List-Unsubscribe": f"<{unsubscribe_url}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


def render_plain(template_name: str, context: dict) -> str:
    """A plain-text template rendered without HTML escaping: "Smith & Sons", not "&amp;"."""
    return get_template(template_name).template.render(Context(context, autoescape=False))


def automatic_headers(language: str) -> dict[str, str]:
    """Every email Jalon sends is automatic (RFC 3834) and says its language."""
    return {"Auto-Submitted": "auto-generated", "Content-Language": language}


def render_email(kind: str, language: str, context: dict) -> tuple[str, str, str]:
    """Subject, text and HTML of one email, in the subscriber's language."""
    with translation.override(language):
        base = f"reminders/email/{language}/{kind}"
        subject = render_plain(f"{base}_subject.txt", context)
        text = render_plain(f"{base}_body.txt", context)
        html = render_to_string(f"{base}_body.html", context)
    return subject_line(subject), text, html


# Stand-ins for the two links while an email is rendered for several subscribers at once:
# random per process, so no milestone title can contain them.
_MARK = secrets.token_hex(8)
LINK_MARKS = {"manage_url": f"jalon-manage-{_MARK}", "unsubscribe_url": f"jalon-unsub-{_MARK}"}


def _rendered(
    kind: str, subscription: Subscription, context: dict, links: dict[str, str],
    shared: dict | None, share_key: Hashable | None,
) -> tuple[str, str, str]:  # fmt: skip
    """Subject, text and HTML; rendered once per batch for subscribers who would read the same.

    With `shared` (a dict the caller keeps for one batch) and `share_key` (what the caller's
    context says, apart from the subscription and its links), the templates are rendered once
    per kind, language, workspace-or-public footer and `share_key`, with stand-ins for the
    links, and each subscriber's links are filled in (escaped in the HTML, as autoescape
    would). tests/test_delivery_batches.py checks that this equals rendering each one.
    """
    if shared is None or share_key is None:
        return render_email(kind, subscription.language, {**context, **links})
    key = (kind, subscription.language, bool(subscription.owner_key), share_key)
    if key not in shared:
        shared[key] = render_email(kind, subscription.language, {**context, **LINK_MARKS})
    subject, text, html = shared[key]
    for name, mark in LINK_MARKS.items():
        subject = subject.replace(mark, links[name])
        text = text.replace(mark, links[name])
        html = html.replace(mark, escape(links[name]))
    return subject, text, html


def subscriber_message(
    kind: str, *, subscription: Subscription, context: dict, now: dt.datetime, list_headers=True,
    shared: dict | None = None, share_key: Hashable | None = None,
) -> Message:  # fmt: skip
    """An unsaved outbox message to a subscriber: rendered in their language, with the manage
    and unsubscribe links (and, unless `list_headers` is off, the RFC 8058 headers).

    `shared` and `share_key`: see `_rendered` (a batch renders each distinct email once).
    """
    links = subscription_links(subscription)
    subject, text, html = _rendered(kind, subscription, context, links, shared, share_key)
    return outbox.message(
        to=subscription.email, kind=kind, subject=subject, text=text, html=html,
        stream=subscription_stream(subscription), at=now,
        headers={
            **automatic_headers(subscription.language),
            **(unsubscribe_headers(links["unsubscribe_url"]) if list_headers else {}),
        },
    )  # fmt: skip
