"""An outbox message as the bytes Django's SMTP backend would send, built without its MIME tree.

Django builds each email as a tree of `email.mime` objects and flattens it with the standard
library's generator, which re-parses and re-folds every header and compiles a regular
expression per message (the random boundary): about 1 ms a message, as much as talking to
the SMTP server. The outbox's messages all have one of two shapes (plain text, or plain text
with an HTML alternative), UTF-8, with headers the outbox chose, so this writes those bytes
directly, with the same headers in the same order, the same encodings (7bit or 8bit bodies,
RFC 2047 encoded words for non-ASCII headers, compat32 folding) and the same envelope.

Anything outside that common case (a body line longer than RFC 5322 allows, which Django
sends quoted-printable; an address that needs parsing: a display name, non-ASCII) returns
None, and the caller goes through Django's `EmailMultiAlternatives` as before.
tests/test_delivery_batches.py checks that both produce the same bytes.
"""

from __future__ import annotations

import re
import secrets
from email.policy import compat32
from email.utils import formatdate

from django.conf import settings
from django.core.mail.message import (
    RFC5322_EMAIL_LINE_LENGTH_LIMIT,
    forbid_multi_line_headers,
    sanitize_address,
)

ENCODING = "utf-8"
MAX_HEADER_LINE = 78  # compat32 folds longer header lines
LINE_END = re.compile(r"\r\n|\r|\n")  # what the generator treats as a line end
# An address that Django's sanitize_address would return unchanged: no display name, ASCII.
PLAIN_ADDRESS = re.compile(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?"
)


class Sender:
    """What every message of a batch shares: the envelope and From header, computed once."""

    def __init__(self, from_email: str | None = None):
        from_email = from_email or settings.DEFAULT_FROM_EMAIL
        self.envelope_from = sanitize_address(from_email, ENCODING)
        self.from_header = _header("From", from_email)
        self.localtime = settings.EMAIL_USE_LOCALTIME


# Printable ASCII words with single spaces: a value that neither Django's encoding nor
# compat32's folding changes when its line is short.
PLAIN_VALUE = re.compile(r"[\x21-\x7e]+(?: [\x21-\x7e]+)*")
SHORT_LINE = 76  # Header(value).encode()'s line length, for the Subject


def _header(name: str, value: str) -> bytes:
    """One header line as Django sets it (its checks and encoding) and compat32 writes it."""
    short = len(name) + 2 + len(value) <= SHORT_LINE
    if short and "=?" not in value and PLAIN_VALUE.fullmatch(value):
        return f"{name}: {value}\r\n".encode("ascii")
    name, value = forbid_multi_line_headers(name, value, ENCODING)  # BadHeaderError, encoding
    return _line(name, value)


def _line(name: str, value: str) -> bytes:
    """One header line as the compat32 generator writes it: folded past 78 characters."""
    if len(name) + 2 + len(value) <= MAX_HEADER_LINE and value.isascii():
        return f"{name}: {value}\r\n".encode("ascii")
    return compat32.fold_binary(name, value).replace(b"\n", b"\r\n")


def _body(text: str) -> tuple[bytes, bytes] | None:
    """The transfer encoding and the body with CRLF line ends; None if it needs QP."""
    if any(len(line.encode(ENCODING, "surrogateescape")) > RFC5322_EMAIL_LINE_LENGTH_LIMIT
           for line in text.splitlines()):  # fmt: skip
        return None  # Django sends it quoted-printable
    cte = b"7bit" if text.isascii() else b"8bit"
    return cte, "\r\n".join(LINE_END.split(text)).encode(ENCODING, "surrogateescape")


def _text_headers(subtype: str, cte: bytes) -> bytes:
    return (
        f'Content-Type: text/{subtype}; charset="{ENCODING}"\r\n'
        "MIME-Version: 1.0\r\n"
        f"Content-Transfer-Encoding: {cte.decode()}\r\n"
    ).encode("ascii")


def wire_message(
    *, sender: Sender, to: str, subject: str, text: str, html: str, headers: dict[str, str]
) -> tuple[str, list[str], bytes] | None:
    """(envelope sender, recipients, bytes) as Django's SMTP backend would send them, or None
    when the message is not in the common case (the caller then lets Django build it)."""
    if not PLAIN_ADDRESS.fullmatch(to):
        return None
    plain = _body(text)
    rich = _body(html) if html else None
    if plain is None or (html and rich is None):
        return None
    head = [
        _header("Subject", subject),
        sender.from_header,
        _header("To", to),
    ]
    names = {name.lower() for name in headers}
    if "date" not in names:
        head.append(_header("Date", formatdate(localtime=sender.localtime)))
    head += [
        _header(name, value)
        for name, value in headers.items()
        if name.lower() not in {"from", "to", "cc", "reply-to"}
    ]
    if not html:
        data = b"".join([_text_headers("plain", plain[0]), *head, b"\r\n", plain[1]])
        return sender.envelope_from, [to], data
    boundary = f"==============={secrets.randbelow(10**19):019d}=="
    while boundary in text or boundary in html:  # as the generator: never inside a part
        boundary = f"==============={secrets.randbelow(10**19):019d}=="
    mark = boundary.encode("ascii")
    data = b"".join(
        [
            _line("Content-Type", f'multipart/alternative; boundary="{boundary}"'),
            b"MIME-Version: 1.0\r\n",
            *head,
            b"\r\n--", mark, b"\r\n",
            _text_headers("plain", plain[0]), b"\r\n", plain[1],
            b"\r\n--", mark, b"\r\n",
            _text_headers("html", rich[0]), b"\r\n", rich[1],
            b"\r\n--", mark, b"--\r\n",
        ]
    )  # fmt: skip
    return sender.envelope_from, [to], data
