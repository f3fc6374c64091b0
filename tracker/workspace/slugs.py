"""Organisation slugs that would hide a route of the workspace, read from the URLconf.

An organisation's pages live at /w/<slug>/..., beside fixed routes such as /w/invitations/...
and /w/import/. An organisation whose slug is the first segment of a fixed route would lose
its pages to that route (or take the route's), so such slugs are reserved. They are read
from the URLconf when asked, so a route added later is reserved without a list to update.
"""

from __future__ import annotations

import re

from django.urls import URLPattern, URLResolver, get_resolver

WORKSPACE_NAMESPACE = "workspace"
_LITERAL = re.compile(r"[-\w.]+")


def _first_segment(route: str) -> str | None:
    """The fixed first segment of a route or regex ("invitations/<str:token>/" → "invitations"),
    or None when it starts with a parameter or is empty (the home page)."""
    match = _LITERAL.match(route.lstrip("^"))
    if not match:
        return None
    segment = match.group()
    rest = route.lstrip("^")[len(segment) :]
    if rest and rest[0] not in "/$":  # "x<int:pk>/" or "x(?P<...>)": not a fixed word
        return None
    return segment


def _workspace_resolvers(resolver: URLResolver):
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            if pattern.namespace == WORKSPACE_NAMESPACE or pattern.app_name == WORKSPACE_NAMESPACE:
                yield pattern
            else:
                yield from _workspace_resolvers(pattern)


def _segments(patterns) -> set[str]:
    found = set()
    for pattern in patterns:
        if isinstance(pattern, URLPattern | URLResolver):
            segment = _first_segment(str(pattern.pattern))
            if segment:
                found.add(segment.lower())
    return found


def reserved_slugs() -> frozenset[str]:
    """The first segments of the workspace's fixed routes ("invitations", "import", "mail"...),
    which no organisation's slug may take."""
    found: set[str] = set()
    for workspace in _workspace_resolvers(get_resolver()):
        found |= _segments(workspace.url_patterns)
    return frozenset(found)


def slug_is_reserved(slug: str) -> bool:
    return slug.lower() in reserved_slugs()
