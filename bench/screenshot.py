"""Save a screenshot of the Jalon timeline with Debian's Chromium, through Playwright.

Start the site first (`make run`), then from the repository root:

    .venv/bin/python bench/screenshot.py                  # 1280x900 -> docs/screenshot-timeline.png
    .venv/bin/python bench/screenshot.py --phone          # 390x844  -> docs/screenshot-phone.png
    .venv/bin/python bench/screenshot.py --url http://127.0.0.1:8000/?scope=gpai --out /tmp/a.png

Only the first screenful is captured (full_page=False). CHROMIUM_PATH overrides
/usr/bin/chromium; `playwright install` is never needed.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

DOCS = Path(__file__).resolve().parent.parent / "docs"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000/")
    parser.add_argument("--out", type=Path, help="PNG path (default: under docs/)")
    parser.add_argument("--phone", action="store_true", help="390x844 instead of 1280x900")
    args = parser.parse_args()
    if args.phone:
        viewport, out = {"width": 390, "height": 844}, DOCS / "screenshot-phone.png"
    else:
        viewport, out = {"width": 1280, "height": 900}, DOCS / "screenshot-timeline.png"
    out = args.out or out
    out.parent.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport=viewport)
            response = page.goto(args.url, wait_until="load")
            if response is None or not response.ok:
                status = response.status if response else "no response"
                print(f"{args.url} answered {status}", file=sys.stderr)
                return 1
            page.screenshot(path=str(out), full_page=False)
        finally:
            browser.close()
    print(f"saved {out} ({viewport['width']}x{viewport['height']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
