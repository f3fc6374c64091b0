"""Rendering emails: one name, three templates (subject, text, HTML), one folder per language."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.template import Context
from django.template.loader import get_template, render_to_string
from django.urls import reverse
from django.utils import translation

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


def subscription_links(subscription: Subscription) -> dict[str, str]:
    """Absolute, signed manage and unsubscribe links for the footer of every email."""

    def link(name: str, purpose: str) -> str:
        token = subscription_token(subscription=subscription, purpose=purpose)
        return settings.SITE_URL + reverse(f"reminders:{name}", kwargs={"token": token})

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


def subscriber_message(
    kind: str, *, subscription: Subscription, context: dict, now: dt.datetime, list_headers=True
) -> Message:
    """An unsaved outbox message to a subscriber: rendered in their language, with the manage
    and unsubscribe links (and, unless `list_headers` is off, the RFC 8058 headers)."""
    links = subscription_links(subscription)
    subject, text, html = render_email(kind, subscription.language, {**context, **links})
    return outbox.message(
        to=subscription.email, kind=kind, subject=subject, text=text, html=html,
        stream=subscription_stream(subscription), at=now,
        headers={
            **automatic_headers(subscription.language),
            **(unsubscribe_headers(links["unsubscribe_url"]) if list_headers else {}),
        },
    )  # fmt: skip
