"""The POST forms of an HTML page, read as a browser would submit them (for tests that replay
what a page offers: the URL sweep, the admin's bad-input tests)."""

from __future__ import annotations

from collections.abc import Callable
from html.parser import HTMLParser

Change = Callable[[str, str, str], str]  # (input type, name, value shown) -> value sent


def _as_shown(kind: str, name: str, value: str) -> str:
    return value


class Forms(HTMLParser):
    """The POST forms of a page: their action and the values a person would submit (passed
    through `change(kind, name, value)`), with a choice made where the page leaves a required
    one open."""

    def __init__(self, change: Change = _as_shown):
        super().__init__()
        self._change = change
        self.forms: list[tuple[str, list[tuple[str, str]]]] = []
        self._fields: list[tuple[str, str]] | None = None
        self._boxes: dict[str, list[tuple[str, bool]]] = {}  # checkbox and radio groups
        self._select: str | None = None
        self._options: list[tuple[str, bool]] = []
        self._required = False
        self._textarea: str | None = None
        self._text = ""

    def handle_starttag(self, tag, attrs):
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and a.get("method", "get").lower() == "post":
            self._fields, self._boxes = [], {}
            self.forms.append((a.get("action", ""), self._fields))
        if self._fields is None:
            return
        name = a.get("name")
        if tag == "input" and name:
            kind = a.get("type", "text").lower()
            if kind in ("checkbox", "radio"):
                self._boxes.setdefault(name, []).append((a.get("value", "on"), "checked" in a))
            elif kind not in ("submit", "button", "image", "file", "reset"):
                self._fields.append((name, self._change(kind, name, a.get("value", ""))))
        elif tag == "select" and name:
            self._select, self._options, self._required = name, [], "required" in a
        elif tag == "option" and self._select:
            self._options.append((a.get("value", ""), "selected" in a))
        elif tag == "textarea" and name:
            self._textarea, self._text = name, ""

    def handle_data(self, data):
        if self._textarea:
            self._text += data

    def handle_endtag(self, tag):
        if self._fields is None:
            return
        if tag == "form":
            for name, boxes in self._boxes.items():
                checked = [value for value, on in boxes if on] or [boxes[0][0]]
                self._fields.extend((name, value) for value in checked)
            self._fields = None
        elif tag == "select" and self._select:
            # As a browser: the selected options, else the first; a required one left empty
            # gets its first real choice.
            options = self._options or [("", False)]
            chosen = [value for value, on in options if on] or [options[0][0]]
            if self._required and chosen == [""]:
                chosen = [value for value, _ in options if value][:1] or [""]
            self._fields.extend((self._select, value) for value in chosen)
            self._select = None
        elif tag == "textarea" and self._textarea:
            text = self._text[1:] if self._text.startswith("\n") else self._text  # as browsers
            self._fields.append((self._textarea, self._change("textarea", self._textarea, text)))
            self._textarea = None


def form_fields(html: str, path: str, change: Change = _as_shown) -> dict[str, list[str]] | None:
    """The fields of the first POST form that submits to `path`, or None if there is none."""
    parser = Forms(change)
    parser.feed(html)
    for action, fields in parser.forms:
        if action in ("", path, "."):
            data: dict[str, list[str]] = {}
            for name, value in fields:
                data.setdefault(name, []).append(value)
            return data
    return None
