"""The accounts app's emails: verify an address, "you already have an account", reset a
password. Plain text, Jalon's name and host, in the account's language (English, French or
German), rendered from templates/accounts/email/<language>/<kind>_{subject,body}.txt."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import translation

from tracker.accounts.models import EmailVerification

LANGUAGES = tuple(EmailVerification.Language.values)


def site_host() -> str:
    """The host people know Jalon by (SITE_URL's), for the emails' signature."""
    return urlsplit(settings.SITE_URL).netloc or "Jalon"


def absolute(path: str) -> str:
    return f"{settings.SITE_URL}{path}"


def request_language(request) -> str:
    """The best of our email languages for the browser's Accept-Language; English otherwise."""
    header = request.META.get("HTTP_ACCEPT_LANGUAGE", "") if request is not None else ""
    for code, _quality in translation.trans_real.parse_accept_lang_header(header):
        base = code.split("-")[0].lower()
        if base in LANGUAGES:
            return base
    return "en"


def render_email(kind: str, language: str, context: dict) -> tuple[str, str]:
    """Subject (one line) and body of one email."""
    language = language if language in LANGUAGES else "en"
    context = {"site_host": site_host(), "site_url": settings.SITE_URL, **context}
    with translation.override(language):
        base = f"accounts/email/{language}/{kind}"
        subject = " ".join(render_to_string(f"{base}_subject.txt", context).split())
        body = render_to_string(f"{base}_body.txt", context).strip() + "\n"
    return subject, body


def headers(language: str) -> dict[str, str]:
    """Automatic mail (RFC 3834) in its language."""
    return {"Auto-Submitted": "auto-generated", "Content-Language": language}
