"""The server-side request forgery guard: an endpoint may only be a public address.

One check, `url_check`, used when an endpoint is saved (the form and the admin share
`validate_webhook_url`) and again right before each delivery, which then connects to the very
address that was checked (`resolve_public`): a DNS answer that changed to a private address
after the endpoint was saved is refused. `WEBHOOK_ALLOW_PRIVATE` (tests, local development
only) lets loopback and private addresses through.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError

log = logging.getLogger(__name__)

SCHEMES = ("http", "https")


class UnsafeURL(Exception):
    """The URL may not be called: its message says why, in words for the owner."""


class NotResolved(UnsafeURL):
    """The host has no address now (may be temporary)."""


@dataclass(frozen=True)
class Target:
    """Where a delivery connects: the checked address, with the name it was asked by."""

    scheme: str
    host: str  # the name in the URL (for the Host header and TLS)
    port: int
    address: str  # the checked IP address
    path: str  # path and query

    @property
    def url(self) -> str:
        """The URL with the checked address in place of the name."""
        literal = f"[{self.address}]" if ":" in self.address else self.address
        return f"{self.scheme}://{literal}:{self.port}{self.path}"

    @property
    def host_header(self) -> str:
        default = {"http": 80, "https": 443}[self.scheme]
        name = f"[{self.host}]" if ":" in self.host else self.host
        return name if self.port == default else f"{name}:{self.port}"


def private_allowed() -> bool:
    return settings.WEBHOOK_ALLOW_PRIVATE


def address_refusal(address: str) -> str | None:
    """Why an IP address may not be called, or None when it is a public one."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    elif isinstance(ip, ipaddress.IPv6Address) and ip.sixtofour is not None:
        ip = ip.sixtofour  # 6to4 (2002::/16) carries an IPv4 address a relay may reach
    for test, words in (
        ("is_loopback", "a loopback address"),
        ("is_link_local", "a link-local address"),
        ("is_unspecified", "an unspecified address"),
        ("is_multicast", "a multicast address"),
        ("is_reserved", "a reserved address"),
        ("is_private", "a private address"),
    ):
        if getattr(ip, test):
            return words
    if not ip.is_global:  # shared (100.64/10), documentation and the like
        return "not a public address"
    return None


def _split(url: str) -> tuple[str, str, int, str]:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UnsafeURL("This is not a valid URL.") from None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise UnsafeURL("Use an http:// or https:// URL.")
    if not parts.hostname:
        raise UnsafeURL("The URL has no host name.")
    if parts.username or parts.password:
        raise UnsafeURL("Put no user name or password in the URL.")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return scheme, parts.hostname, port or (443 if scheme == "https" else 80), path


def resolve_public(url: str) -> Target:
    """The address to connect to for `url`: every address its host resolves to must be public
    (unless WEBHOOK_ALLOW_PRIVATE); raises UnsafeURL (NotResolved when DNS has no answer)."""
    scheme, host, port, path = _split(url)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise NotResolved(f"The host {host} could not be resolved ({exc}).") from None
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    if not addresses:
        raise NotResolved(f"The host {host} has no address.")
    if not private_allowed():
        for address in addresses:
            refusal = address_refusal(address)
            if refusal is not None:
                # Neither the address nor which rule: the form must not map internal DNS.
                log.info("webhook URL refused: %s resolves to %s, %s", host, address, refusal)
                raise UnsafeURL(
                    f"{host} is not a public address: webhooks may only call public addresses."
                )
    # IPv4 first: it is what most receivers listen on.
    addresses.sort(key=lambda a: ":" in a)
    return Target(scheme=scheme, host=host, port=port, address=addresses[0], path=path)


def validate_webhook_url(url: str) -> None:
    """The one validator of an endpoint's URL (the form and the admin use it)."""
    try:
        resolve_public(url)
    except UnsafeURL as exc:
        raise ValidationError(str(exc), code="unsafe_url") from None
