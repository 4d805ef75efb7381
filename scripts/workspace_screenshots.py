"""Screenshots of the staff workspace as a seller sees it, from a running system (`make run`):
the home, the inbox with a customer's message arriving live, a thread, a customer's page, at a
desktop's width (1,400 px) and a phone's (390 px). Each page is checked as it is taken: nothing
wider than the screen, no raw JSON. Uses Playwright with Debian's Chromium.

    .venv/bin/python scripts/workspace_screenshots.py --user lucia --password ... --key <API key> \
        [--url http://127.0.0.1:8000] [--out docs/screenshots]

The live message is posted through the API as n8n would (`POST /api/v1/messages`) while the inbox
is open; the script waits for it to appear without a reload and says how long it took.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
import urllib.request
from pathlib import Path

WIDTHS = {"1400": {"width": 1400, "height": 900}, "390": {"width": 390, "height": 844}}


def post_message(url: str, key: str, phone: str, text: str) -> dict:
    body = json.dumps(
        {
            "channel": "n8n",
            "from": phone,
            "name": "Rosario Fernández",
            "text": text,
            "external_id": f"shot-{time.time_ns()}",
            "sent_at": int(time.time()),
        }
    ).encode()
    request = urllib.request.Request(
        f"{url}/api/v1/messages", body, {"Content-Type": "application/json", "Authorization": f"Bearer {key}"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def checked(page, path: Path) -> None:
    page.screenshot(path=str(path), full_page=True)
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    text = page.inner_text("#content")
    problems = [f"{overflow} px wider than the screen"] if overflow > 0 else []
    problems += ["raw JSON"] if '{"' in text else []
    print(f"{path}: {'; '.join(problems) or 'ok'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--user", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--key", required=True, help="an API key of the company (create_api_key)")
    parser.add_argument("--out", default="docs/screenshots")
    parser.add_argument(
        "--live-phone",
        default="+59899321654",
        help="who writes while the inbox is open: a customer already with staff keeps their words last "
        "(the bot, answering at once, would put its reply in their place in the list)",
    )
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    from playwright.sync_api import sync_playwright

    first = post_message(args.url, args.key, "+59899321654", "Hola, quería precio de isodec 100 para un galpón")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium") or "/usr/bin/chromium")
        for name, viewport in WIDTHS.items():
            page = browser.new_page(viewport=viewport, locale="es-UY")
            page.goto(f"{args.url}/admin/login/?next=/admin/")
            page.fill("#id_username", args.user)
            page.fill("#id_password", args.password)
            page.click("input[type=submit]")
            page.wait_for_selector("body[data-charts=drawn]")
            checked(page, out / f"home-{name}.png")
            page.goto(f"{args.url}/admin/bandeja/")
            page.wait_for_selector("body[data-live=on]")
            text = f"¿Me pasan el total con flete a Maldonado? ({name} px)"
            started = time.perf_counter()
            post_message(args.url, args.key, args.live_phone, text)
            page.wait_for_selector(f"text={text}", timeout=15_000)
            print(f"live message in the inbox after {(time.perf_counter() - started) * 1000:.0f} ms, no reload")
            checked(page, out / f"inbox-live-{name}.png")
            page.goto(f"{args.url}/admin/bandeja/{first['conversation_id']}/")
            page.wait_for_selector("body[data-live=on]")
            checked(page, out / f"thread-{name}.png")
            page.click("a[href*='/admin/clientes/']")
            page.wait_for_load_state()
            checked(page, out / f"customer-{name}.png")
            page.close()
        browser.close()


if __name__ == "__main__":
    main()
