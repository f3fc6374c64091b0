"""What goes over the wire for each format: the event as generic JSON, a Slack message or a
Microsoft Teams Adaptive Card. Events are stored generic (Delivery.payload) and turned into
the endpoint's format when sent, so a retry sends the same thing."""

from __future__ import annotations

import json
import re

from tracker.webhooks.models import EVENT_TYPES, TEST_EVENT, Endpoint

TITLES = {**EVENT_TYPES, TEST_EVENT: "A test event from Jalon"}


def envelope(*, event_type: str, timestamp: str, data: dict) -> dict:
    """The Standard Webhooks payload shape: type, timestamp, data. `data` carries a one-line
    `summary` and a `url` back to Jalon, read by the chat formats."""
    return {"type": event_type, "timestamp": timestamp, "data": data}


def _facts(data: dict) -> list[tuple[str, str]]:
    """A few labelled facts of an event, for the chat formats."""
    facts = []
    for label, key in (
        ("Organisation", "organisation_name"),
        ("Due", "due_date"),
        ("Was", "old_date"),
        ("Now", "new_date"),
        ("Deadline", "deadline_text"),
        ("Legal basis", "legal_basis"),
    ):
        value = data.get(key)
        if value:
            facts.append((label, str(value)))
    return facts


def _slack_escape(text: str) -> str:
    """Slack's three control characters: a title cannot become a link or an @channel."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_TEAMS_MARKDOWN = re.compile(r"([\\`*_\[\]])")  # what makes links, emphasis and code


def _teams_escape(text: str) -> str:
    """Adaptive Card text renders Markdown: a title cannot become a link or emphasis."""
    return _TEAMS_MARKDOWN.sub(r"\\\1", text)


def slack_body(payload: dict) -> dict:
    """A Slack incoming-webhook message: a plain `text` fallback and mrkdwn blocks."""
    data = payload.get("data", {})
    summary = data.get("summary") or TITLES.get(payload.get("type"), "Jalon event")
    url = data.get("url", "")
    lines = [f"*{_slack_escape(summary)}*"]
    lines += [f"{_slack_escape(k)}: {_slack_escape(v)}" for k, v in _facts(data)]
    if url:
        lines.append(f"<{url}|Open in Jalon>")
    return {
        "text": _slack_escape(summary),  # the notification's text: escaped too
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)}}],
    }


def teams_body(payload: dict) -> dict:
    """A message with one Adaptive Card, as Teams incoming webhooks and Workflows accept."""
    data = payload.get("data", {})
    summary = data.get("summary") or TITLES.get(payload.get("type"), "Jalon event")
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": [
            {"type": "TextBlock", "text": TITLES.get(payload.get("type"), "Jalon"),
             "weight": "Bolder", "size": "Medium", "wrap": True},
            {"type": "TextBlock", "text": _teams_escape(summary), "wrap": True},
        ],
    }  # fmt: skip
    facts = _facts(data)
    if facts:
        card["body"].append(
            {
                "type": "FactSet",
                "facts": [{"title": k, "value": _teams_escape(v)} for k, v in facts],
            }
        )
    if data.get("url"):
        card["actions"] = [{"type": "Action.OpenUrl", "title": "Open in Jalon", "url": data["url"]}]
    return {
        "type": "message",
        "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None,
             "content": card},
        ],
    }  # fmt: skip


def body_for(endpoint_format: str, payload: dict) -> bytes:
    """The request body for an endpoint of this format, as the bytes that are signed."""
    if endpoint_format == Endpoint.Format.SLACK:
        document = slack_body(payload)
    elif endpoint_format == Endpoint.Format.TEAMS:
        document = teams_body(payload)
    else:
        document = payload
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()
