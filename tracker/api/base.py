"""What every API view shares: the input guard and a schema that documents the error answers.

Every view of the API puts `ApiView` first in its bases (tests/test_api_schema.py checks it
over the URLconf). PostgreSQL refuses a NUL character in text, so one reaching a query would
be a 500: a NUL in the path is a 404, in a query parameter or a request body a 400 naming
where it is (`{"systems[0].name": ["NUL characters are not allowed in systems[0].name."]}`).

A request made with a personal API token (tracker/api/authentication.py) reaches only the
token's organisation: every queryset a view filters is narrowed to it, and a read-only token
gets a 403 on any write.

The schema lists, for each operation, the errors it can answer with and their bodies, so that
clients (and schemathesis) can rely on them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent
from rest_framework import permissions, serializers
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.settings import api_settings

from tracker.workspace.models import ApiToken, Organisation

READ_ONLY_TOKEN = "This token is read-only: make a read-and-write token to change anything."  # noqa: S105


def request_token(request) -> ApiToken | None:
    """The personal API token the request was authenticated with, if any."""
    auth = getattr(request, "auth", None)
    return auth if isinstance(auth, ApiToken) else None


def token_scope(queryset, token: ApiToken):
    """The queryset narrowed to the token's organisation (organisations, and any model with an
    `organisation`); other models (the public catalogue) as they are."""
    model = queryset.model
    if issubclass(model, Organisation):
        return queryset.filter(pk=token.organisation_id)
    if any(f.name == "organisation" for f in model._meta.fields):
        return queryset.filter(organisation_id=token.organisation_id)
    return queryset


def has_nul(value: Any) -> bool:
    """True if a NUL character is anywhere in a str, or in a dict's keys or values, or a list."""
    return any(True for _ in nul_paths(value))


def nul_paths(value: Any, path: str = "") -> Iterator[str]:
    """Where NUL characters hide in a request's data, as paths: "email", "systems[0].name"."""
    if isinstance(value, str):
        if "\x00" in value:
            yield path
    elif isinstance(value, dict):
        for key, item in value.items():
            name = str(key).replace("\x00", "")
            where = f"{path}.{name}" if path else name
            if "\x00" in str(key):
                yield where
            yield from nul_paths(item, where)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from nul_paths(item, f"{path}[{index}]")


def nul_errors(data: Any) -> dict[str, list[str]]:
    """A validation error body naming each place where a NUL character hides."""
    errors: dict[str, list[str]] = {}
    for path in nul_paths(data):
        where = path or api_settings.NON_FIELD_ERRORS_KEY
        errors.setdefault(where, [f"NUL characters are not allowed in {where}."])
    return errors


class ErrorDetail(serializers.Serializer):
    """The body of an error that is not about one field (401, 403, 404, 405, 429, 503)."""

    detail = serializers.CharField()


VALIDATION_ERRORS = {
    "type": "object",
    "description": (
        "What was wrong, by field: `{field: [message, ...]}`. A nested field answers with an "
        "object (a list's items by index), a check on the whole request under "
        "`non_field_errors`, a body that cannot be parsed with `{detail: message}`."
    ),
    "additionalProperties": {
        "anyOf": [
            {"type": "array", "items": {"type": "string"}},
            {"type": "object"},
            {"type": "string"},
        ]
    },
}

ERROR_DESCRIPTIONS = {
    "400": "Invalid input: a message per field.",
    "401": "Not signed in, or an API token that is unknown, revoked or expired.",
    "403": "Not signed in, no right to do this, or a missing CSRF token.",
    "404": "No such object, or not one of yours; an invalid page.",
    "429": "Too many requests from this client; `Retry-After` says when to try again.",
}


class ErrorsAutoSchema(AutoSchema):
    """drf-spectacular's schema plus the error answers this operation can give."""

    def _error_codes(self) -> list[str]:
        view, unsafe = self.view, self.method not in permissions.SAFE_METHODS
        authenticators = [auth() for auth in getattr(view, "authentication_classes", [])]
        guarded = any(
            not isinstance(p, permissions.AllowAny) for p in view.get_permissions()
        )  # fmt: skip
        codes = ["400"]  # every operation: a NUL, a bad filter, a bad body
        if any(auth.authenticate_header(None) for auth in authenticators) and guarded:
            codes.append("401")
        if guarded or (unsafe and authenticators):  # session auth checks CSRF on writes
            codes.append("403")
        if self._has_path_parameters() or self._is_list_view():
            codes.append("404")  # no such object; a list's invalid page
        if getattr(view, "throttle_classes", None) or any(
            getattr(auth, "throttles_failures", False) for auth in authenticators
        ):  # a throttle, or an authenticator that throttles failed attempts (API tokens)
            codes.append("429")
        return codes

    def _has_path_parameters(self) -> bool:
        return "{" in self.path

    def _validation_errors_ref(self) -> dict:
        component = ResolvedComponent(
            name="ValidationErrors",
            type=ResolvedComponent.SCHEMA,
            object="ValidationErrors",
            schema=VALIDATION_ERRORS,
        )
        self.registry.register_on_missing(component)
        return component.ref

    def _error_body(self, code: str, direction: str) -> dict:
        body = self._validation_errors_ref() if code == "400" else ErrorDetail
        return self._get_response_for_code(body, code, direction=direction)

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction=direction)
        for code, response in responses.items():
            if code >= "400" and "content" not in response:  # described by the view, no body
                response["content"] = self._error_body(code, direction)["content"]
        for code in self._error_codes():
            if code not in responses:
                response = self._error_body(code, direction)
                response["description"] = ERROR_DESCRIPTIONS[code]
                responses[code] = response
        return dict(sorted(responses.items()))


class ApiView:
    """Put first in the bases of every API view: the NUL guard and the error schema."""

    schema = ErrorsAutoSchema()

    def initial(self, request, *args, **kwargs):
        if has_nul(list(kwargs.values())):
            raise NotFound()
        super().initial(request, *args, **kwargs)
        token = request_token(request)
        if token is not None and token.read_only and request.method not in permissions.SAFE_METHODS:
            raise PermissionDenied(READ_ONLY_TOKEN)
        errors = nul_errors(_plain(request.query_params))
        if request.method not in permissions.SAFE_METHODS:
            errors |= nul_errors(_plain(request.data))  # unreadable: a 400 (ParseError) here
        if errors:
            raise ValidationError(errors)

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        token = request_token(self.request)
        return queryset if token is None else token_scope(queryset, token)


def _plain(data: Any) -> Any:
    """A QueryDict as a dict of lists ("a=1&a=2": {"a": ["1", "2"]}), other data as it is."""
    if hasattr(data, "lists"):
        return {key: values[0] if len(values) == 1 else values for key, values in data.lists()}
    return data
