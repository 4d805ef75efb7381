"""How fast a customer's message reaches a seller's open thread, pushed over the WebSocket:
from the moment n8n's POST /api/v1/messages is sent to the moment the message is in the page of a
real browser (Playwright driving Debian's Chromium), for N messages (default 100) at a steady pace.

Beside it, in the same run: what the seller would wait without the push, a reload of the thread
(navigation until the page is loaded), and the POST itself (the ingest the push follows). The web
process as the Procfile runs it (uvicorn, its default processes and threads), embedded SQLite and
Redis unless DATABASE_URL / REDIS_URL are set; no worker consumes (the bot's turns wait), so the
figure is the push alone. Not a test.

    .venv/bin/python bench/live_push.py [--messages 100] [--pace 0.2]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.message_pipeline import System, percentile  # noqa: E402

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
PHONE = "+59899555001"
# each new .ws-in bubble's text and when it first appeared, kept by the page itself
OBSERVER = """() => {
  window.seen = {};
  const thread = document.getElementById('thread');
  new MutationObserver(() => {
    for (const bubble of thread.querySelectorAll('.ws-in p')) {
      const text = bubble.textContent.trim();
      if (!(text in window.seen)) window.seen[text] = Date.now();
    }
  }).observe(thread, {childList: true, subtree: true});
}"""


def post(port: int, key: str, n: int) -> tuple[float, float, dict]:
    body = json.dumps(
        {
            "channel": "n8n",
            "from": PHONE,
            "name": "Bench",
            "external_id": f"live-{n}",
            "text": f"mensaje {n}",
            "sent_at": int(time.time()),
        }
    )
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    sent = time.time() * 1000
    connection.request(
        "POST", "/api/v1/messages", body, {"Content-Type": "application/json", "Authorization": f"Bearer {key}"}
    )
    response = connection.getresponse()
    answer = json.loads(response.read())
    connection.close()
    if response.status != 202:
        raise SystemExit(f"POST /api/v1/messages: {response.status} {answer}")
    return sent, time.time() * 1000 - sent, answer


def run(args) -> dict:
    from playwright.sync_api import sync_playwright

    with System(concurrency=1, var_name="bench-live") as system:
        manage = [sys.executable, str(ROOT / "manage.py")]
        env = {**system.env, "DJANGO_SUPERUSER_PASSWORD": "bench-clave-1"}
        subprocess.run(
            [*manage, "createsuperuser", "--noinput", "--username", "bench", "--email", "bench@example.com"],
            cwd=ROOT,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        port, key = system.port, system.key
        _, _, first = post(port, key, 0)
        url = f"http://127.0.0.1:{port}"
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(f"{url}/admin/login/?next=/admin/")
            page.fill("#id_username", "bench")
            page.fill("#id_password", "bench-clave-1")
            page.click("input[type=submit]")
            page.wait_for_load_state()
            thread_url = f"{url}/admin/bandeja/{first['conversation_id']}/"
            reloads = []
            for _ in range(10):
                started = time.perf_counter()
                page.goto(thread_url, wait_until="load")
                reloads.append((time.perf_counter() - started) * 1000)
            page.wait_for_selector("body[data-live=on]")
            page.evaluate(OBSERVER)
            sent, posts = {}, []
            for n in range(1, args.messages + 1):
                at, took, _ = post(port, key, n)
                sent[f"mensaje {n}"] = at
                posts.append(took)
                time.sleep(args.pace)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and len(page.evaluate("Object.keys(window.seen)")) < args.messages:
                time.sleep(0.2)
            seen = page.evaluate("window.seen")
            browser.close()
    latencies = [seen[text] - at for text, at in sent.items() if text in seen]
    result = {
        "messages": args.messages,
        "seen": len(latencies),
        "push_ms": {
            "p50": percentile(latencies, 50),
            "p99": percentile(latencies, 99),
            "mean": statistics.mean(latencies),
        },
        "reload_ms": {"p50": percentile(reloads, 50), "p99": percentile(reloads, 99)},
        "post_ms": {"p50": percentile(posts, 50), "p99": percentile(posts, 99)},
        "database": "postgresql" if os.environ.get("DATABASE_URL", "").startswith("postgres") else "sqlite",
    }
    result["push_vs_reload_p50"] = round(result["push_ms"]["p50"] / result["reload_ms"]["p50"], 2)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100)
    parser.add_argument("--pace", type=float, default=0.2, help="seconds between messages")
    result = run(parser.parse_args())
    print(json.dumps(result, indent=2))
    push, reload_ = result["push_ms"], result["reload_ms"]
    print(
        f"push to the open thread: p50 {push['p50']:.0f} ms, p99 {push['p99']:.0f} ms over {result['seen']}/"
        f"{result['messages']} messages; a reload of the thread p50 {reload_['p50']:.0f} ms "
        f"(push/reload {result['push_vs_reload_p50']}x); the POST itself p50 {result['post_ms']['p50']:.0f} ms"
    )


if __name__ == "__main__":
    main()
