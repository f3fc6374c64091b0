"""The catalogue's changes as an Atom feed: follow the law's dates without an account."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.contrib.syndication.views import Feed
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.feedgenerator import Atom1Feed
from django.utils.text import Truncator

from tracker.catalogue.models import Milestone, MilestoneChange, Regulation
from tracker.catalogue.selectors import changes_queryset, role_and_scope_names
from tracker.web.templatetags.jalon import (
    change_headline,
    date_changed,
    field_label,
    field_order,
    precise_date,
    status_changed,
    status_label,
)

FEED_SIZE = 100
# Part of every id in the feed: a reader tells entries apart by id, so it must never change.
TAG_DATE = "2026"
_DATE_FIELDS = {"date", "original_date", "until", "verified_on"}
_CHOICE_FIELDS = {"kind", "date_precision", "category", "confidence"}


@dataclass(frozen=True)
class FeedScope:
    """What one request of the feed covers, and the names its key lists read as."""

    regulation: Regulation | None
    names: dict[str, dict[str, str]]


def _tag(specific: str) -> str:
    authority = urlsplit(settings.SITE_URL).hostname or "localhost"
    return f"tag:{authority},{TAG_DATE}:{specific}"


def _value(change: MilestoneChange, field: str, value, names: dict[str, dict[str, str]]) -> str:
    """One old or new value as a reader would write it: dates, labels and names, not keys."""
    if value in (None, "", []):
        return "none"
    if field in names and isinstance(value, list):
        return ", ".join(names[field].get(key, key) for key in value)
    if field in _DATE_FIELDS:
        try:
            when = dt.date.fromisoformat(str(value))
        except ValueError:
            return str(value)
        precision = change.milestone.date_precision if field != "verified_on" else "day"
        return precise_date(when, precision)
    if field == "status":
        return status_label(str(value))
    if field in _CHOICE_FIELDS:
        choices = dict(Milestone._meta.get_field(field).flatchoices)
        return str(choices.get(value, value))
    return Truncator(str(value)).chars(200)


def change_rows(change: MilestoneChange, names: dict[str, dict[str, str]]) -> list[tuple]:
    """(what, old, new) for each field a change touched; a new milestone has none."""
    if change.kind == MilestoneChange.Kind.CREATED:
        return []
    iso = [d.isoformat() if d else None for d in (change.old_date, change.new_date)]
    rows = [("date", *iso)] if date_changed(change) else []
    if status_changed(change):
        rows.append(("status", change.old_status, change.new_status))
    covered = {"date", "original_date", "status"}
    details = sorted((f for f in change.changes or {} if f not in covered), key=field_order)
    rows += [(f, *change.changes[f]) for f in details]
    return [
        (field_label(f), _value(change, f, old, names), _value(change, f, new, names))
        for f, old, new in rows
    ]


class ChangesFeed(Feed):
    """Every recorded change of the catalogue, newest first; `?regulation=<key>` narrows it."""

    feed_type = Atom1Feed
    description_template = "web/change_entry.html"
    author_name = "Jalon"
    subtitle = "Every recorded change of a milestone's date, status or details, newest first."
    item_guid_is_permalink = False

    def get_object(self, request) -> FeedScope:
        key = request.GET.get("regulation")
        if key and "\x00" in key:  # PostgreSQL refuses NUL in text: no such regulation
            raise Http404("No such regulation.")
        regulation = get_object_or_404(Regulation, key=key) if key else None
        return FeedScope(regulation=regulation, names=role_and_scope_names())

    def title(self, obj: FeedScope) -> str:
        if obj.regulation:
            return f"Jalon: changes to the {obj.regulation.short_name} timeline"
        return "Jalon: changes to the catalogue"

    def _query(self, obj: FeedScope) -> str:
        return f"?{urlencode({'regulation': obj.regulation.key})}" if obj.regulation else ""

    def link(self, obj: FeedScope) -> str:
        return reverse("web:timeline") + self._query(obj)

    def feed_url(self, obj: FeedScope) -> str:
        return reverse("web:changes_feed") + self._query(obj)

    def feed_guid(self, obj: FeedScope) -> str:
        return _tag(f"changes/{obj.regulation.key}" if obj.regulation else "changes")

    def items(self, obj: FeedScope):
        return changes_queryset(regulation=obj.regulation)[:FEED_SIZE]

    def item_title(self, item: MilestoneChange) -> str:
        milestone = item.milestone
        return f"{milestone.regulation.short_name}: {milestone.title} — {change_headline(item)}"

    def item_link(self, item: MilestoneChange) -> str:
        return f"{item.milestone.get_absolute_url()}#change-{item.pk}"

    def item_guid(self, item: MilestoneChange) -> str:
        return _tag(f"change/{item.pk}")

    def item_pubdate(self, item: MilestoneChange) -> dt.datetime:
        return item.recorded_at

    def item_updateddate(self, item: MilestoneChange) -> dt.datetime:
        return item.recorded_at

    def get_context_data(self, **kwargs):
        # The base class calls the item `obj`; the template reads better with `change`.
        change = kwargs["item"]
        return {"change": change, "rows": change_rows(change, kwargs["obj"].names)}
