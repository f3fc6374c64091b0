"""Personal API tokens on the API: `Authorization: Bearer <secret>` (or `Token <secret>`).

A request with a token is its person's, with exactly their role in the token's organisation
(`tracker.api.workspace.OrganisationScoped` and `tracker.api.base.ApiView` narrow it to that
organisation, and refuse writes to a read-only token). `request.auth` is the ApiToken.

Any token that does not work (unknown, revoked, expired, its person no longer a member) gets
the same 401: the answer never says which. Failed lookups cost one indexed query and are
counted per client address (as the other throttles see it: X-Forwarded-For only behind
TRUSTED_PROXIES); past the rate, they get a 429 with Retry-After. A working token is never
throttled, so a person sharing an address with someone guessing is not locked out.

A request without an Authorization header of these two kinds falls through to the session
(and its CSRF check) exactly as before.
"""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.throttling import SimpleRateThrottle

from tracker.workspace.api_tokens import token_authenticate

SCHEMES = (b"bearer", b"token")
INVALID = "Invalid token: it is unknown, revoked or expired. Make a new one in the workspace."
MALFORMED = "Invalid Authorization header: send `Bearer <token>` with no spaces in the token."
DEFAULT_FAILURE_RATE = "20/minute"


class TokenFailureThrottle(SimpleRateThrottle):
    """Failed token lookups per client address. Its rate is
    REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["api_token_failures"] when set."""

    scope = "api_token_failures"

    def get_rate(self):
        rates = settings.REST_FRAMEWORK.get("DEFAULT_THROTTLE_RATES", {})
        return rates.get(self.scope, DEFAULT_FAILURE_RATE)

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class ApiTokenAuthentication(BaseAuthentication):
    """A personal API token from the Authorization header (Bearer or Token)."""

    keyword = "Bearer"
    throttles_failures = True  # the schema documents a 429 wherever this class is used

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() not in SCHEMES:
            return None  # no token: the session, if any, decides
        if len(parts) != 2:
            self._failed(request, MALFORMED)
        try:
            secret = parts[1].decode("ascii")
        except UnicodeDecodeError:
            secret = ""
        token = token_authenticate(secret=secret) if secret else None
        if token is None:
            self._failed(request, INVALID)
        return token.user, token

    def _failed(self, request, message: str):
        throttle = TokenFailureThrottle()
        if not throttle.allow_request(request, None):
            raise exceptions.Throttled(wait=throttle.wait())
        raise exceptions.AuthenticationFailed(message)

    def authenticate_header(self, request):
        return f'{self.keyword} realm="api"'


class ApiTokenScheme(OpenApiAuthenticationExtension):
    """The scheme in the OpenAPI schema: HTTP bearer (the `Token` keyword works too)."""

    target_class = "tracker.api.authentication.ApiTokenAuthentication"
    name = "apiToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "jalon_<prefix>_<secret>",
            "description": (
                "A personal API token, made at /w/<organisation>/tokens/ and shown once. "
                "It acts with its person's role in one organisation; a read-only token "
                "cannot write. `Authorization: Token <token>` is accepted too. An unknown, "
                "revoked or expired token gets 401; repeated failures from one address, 429."
            ),
        }
