"""Every relative link in README.md and docs/ resolves inside the repository (issue 12): a
user of the project has only the repository, not the folders beside it."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent
# [text](target "title") and <img src=...> / <a href=...>; code spans are dropped first
_MARKDOWN_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_REFERENCE = re.compile(r"^\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$", re.MULTILINE)
_HTML_LINK = re.compile(r"""(?:href|src)=["']([^"']+)["']""")
_CODE = re.compile(r"```.*?```|`[^`\n]*`", re.DOTALL)


def documents() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def broken_links(document: Path, root: Path = ROOT) -> list[str]:
    """The relative links of a Markdown file that leave `root` or name nothing there."""
    text = _CODE.sub("", document.read_text(encoding="utf-8"))
    targets = [
        *_MARKDOWN_LINK.findall(text),
        *_REFERENCE.findall(text),
        *_HTML_LINK.findall(text),
    ]
    broken = []
    for target in targets:
        parts = urlsplit(target)
        if parts.scheme or parts.netloc or not parts.path:  # a web address or an anchor
            continue
        resolved = (document.parent / unquote(parts.path)).resolve()
        if not resolved.is_relative_to(root.resolve()):
            broken.append(f"{target} (outside the repository)")
        elif not resolved.exists():
            broken.append(f"{target} (no such file)")
    return broken


@pytest.mark.parametrize("document", documents(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves_inside_the_repository(document):
    assert broken_links(document) == []


def test_the_check_catches_a_link_outside_and_a_missing_file(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "real.md").write_text("# Real\n")
    (tmp_path / "README.md").write_text("# Readme\n")
    page = tmp_path / "docs" / "page.md"
    page.write_text(
        "[ok](real.md#real) [out](../../shared/PRODUCT.md) [gone](missing.md)\n"
        '<img src="screenshot.png"> [web](https://example.org/x.md) [top](#top)\n'
        "`[code](not-a-link.md)`\n\n[ref]: ../README.md\n"
    )

    assert broken_links(page, root=tmp_path) == [
        "../../shared/PRODUCT.md (outside the repository)",
        "missing.md (no such file)",
        "screenshot.png (no such file)",
    ]
