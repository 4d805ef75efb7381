"""Benchmark: how long `make run` takes to answer every message again after a fault.

    .venv/bin/python bench/recovery.py [--messages 50]

Starts the whole system as `make run` does (`python -m bmc.launcher run`: supervisord, the
embedded Redis, SQLite) in a var directory of its own (var/bench-recovery) on free ports, then
runs three rounds of the same burst of customer messages (the README's quote request, each from
its own phone), posted as fast as one client can:

- baseline: no fault;
- worker killed: `kill -9` of the conversation worker's main process while the burst waits in
  its queue;
- Redis killed: `kill -9` of the embedded Redis (which keeps nothing on disk) right after the
  burst was accepted.

For each round: every message answered or not, replies per message (one each: none twice), the
seconds from the first message to the last reply, that figure as a ratio of the baseline's, and
for the faults the seconds from the kill until the last message was answered. Not a test.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bmc.launcher import _free_port  # noqa: E402

VAR = ROOT / "var" / "bench-recovery"
TEXT = "cuanto sale isodec 100 para un techo de 6 x 4,48 con flete a montevideo"


class System:
    """`make run` in a var directory of its own (emptied first), on free ports and the embedded
    Redis; `env`: settings of the run over the embedded defaults (a DATABASE_URL, fake services)."""

    def __init__(self, *, var: Path = VAR, env: dict[str, str] | None = None) -> None:
        self.var = var
        shutil.rmtree(var, ignore_errors=True)
        var.mkdir(parents=True)
        self.ports = {"WEB_PORT": _free_port(), "FLOWER_PORT": _free_port(), "EMBEDDED_REDIS_PORT": _free_port()}
        self.env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND", "SECRET_KEY")
        }
        self.env.update({k: str(v) for k, v in self.ports.items()}, BMC_VAR_DIR=str(var), LOG_LEVEL="WARNING")
        self.env.update(env or {})
        # what a command of the system's own (manage.py, a second beat) runs with
        self.manage_env = {**self.env, "REDIS_URL": f"redis://127.0.0.1:{self.ports['EMBEDDED_REDIS_PORT']}/0"}
        self.log = var.with_name(f"{var.name}.log").open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bmc.launcher", "run"],
            cwd=ROOT,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.wait(lambda: self.get("/health/detailed")[0] == 200, 240, "the system is up")
        # the bench's own company on the tier without quotas: limits stay on, its pace is within them
        self.manage("set_tier", "--tenant", "bmc", "--tier", "enterprise")
        self.key = self.manage("create_api_key", "--tenant", "bmc", "--name", "bench").split()[-1]

    def manage(self, *args: str) -> str:
        """A manage.py command on the system's database and Redis; what it printed."""
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.manage_env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    def request(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        headers = {"Content-Type": "application/json"}
        if getattr(self, "key", None):
            headers["Authorization"] = f"Bearer {self.key}"
        status, answer, _ = self.exchange(
            method, path, json.dumps(body).encode() if body is not None else None, headers
        )
        return status, answer

    def exchange(
        self, method: str, path: str, data: bytes | None, headers: dict[str, str]
    ) -> tuple[int, dict, dict[str, str]]:
        """One request to the web: status (0 when it did not answer), JSON body, headers (lower case)."""
        connection = http.client.HTTPConnection("127.0.0.1", self.ports["WEB_PORT"], timeout=30)
        try:
            connection.request(method, path, data, headers)
            response = connection.getresponse()
            raw = response.read()
            answer = json.loads(raw) if raw.startswith(b"{") else {}
            return response.status, answer, {k.lower(): v for k, v in response.getheaders()}
        except OSError:
            return 0, {}, {}
        finally:
            connection.close()

    def get(self, path: str) -> tuple[int, dict]:
        return self.request("GET", path)

    def pid(self, program: str) -> int:
        out = subprocess.run(
            [
                str(Path(sys.executable).parent / "supervisorctl"),
                "-c",
                str(self.var / "supervisord.conf"),
                "pid",
                program,
            ],
            capture_output=True,
            text=True,
        ).stdout.strip()
        return int(out) if out.isdigit() else 0

    @staticmethod
    def wait(check, timeout: float, what: str) -> float:
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if check():
                return time.monotonic() - started
            time.sleep(0.25)
        raise SystemExit(f"recovery: gave up waiting for {what} after {timeout:.0f}s")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
            self.process.wait(timeout=120)


def burst(system: System, n: int, tag: str) -> list[int]:
    conversations = []
    for i in range(n):
        status, body = system.request(
            "POST",
            "/api/v1/messages",
            {
                "channel": "n8n",
                "from": f"+5989{int(time.time()) % 1000:03d}{i:04d}",
                "text": TEXT,
                "external_id": f"{tag}-{i}-{time.time_ns()}",
                "sent_at": int(time.time()),
            },
        )
        if status not in (200, 202):
            raise SystemExit(f"recovery: message {i} answered {status}: {body}")
        conversations.append(body["conversation_id"])
    return conversations


def replies(system: System, conversations: list[int]) -> list[int]:
    """Sent replies per conversation."""
    counts = []
    for conversation in conversations:
        _, body = system.get(f"/api/v1/conversations/{conversation}")
        sent = [m for m in body.get("messages", []) if m["direction"] == "out" and m["delivery_status"] == "sent"]
        counts.append(len(sent))
    return counts


def round_(system: System, n: int, name: str, fault=None, timeout: float = 900) -> dict:
    started = time.monotonic()
    conversations = burst(system, n, name)
    killed_at = None
    if fault is not None:
        fault()
        killed_at = time.monotonic()
    system.wait(lambda: all(replies(system, conversations)), timeout, f"every message of the {name} round answered")
    done = time.monotonic()
    time.sleep(3)  # anything sent twice would show by now
    counts = replies(system, conversations)
    return {
        "round": name,
        "answered": sum(1 for c in counts if c),
        "messages": n,
        "answered_twice": sum(1 for c in counts if c > 1),
        "seconds": round(done - started, 1),
        "after_fault_s": round(done - killed_at, 1) if killed_at else None,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=50)
    args = parser.parse_args()
    system = System()
    try:
        results = [round_(system, args.messages, "baseline")]

        def kill_worker() -> None:
            os.kill(system.pid("bmc:worker_conversation"), signal.SIGKILL)

        results.append(round_(system, args.messages, "worker killed", kill_worker))
        system.wait(lambda: system.get("/health/detailed")[0] == 200, 120, "health after the worker kill")

        def kill_redis() -> None:
            os.kill(system.pid("redis"), signal.SIGKILL)

        results.append(round_(system, args.messages, "Redis killed", kill_redis))
    finally:
        system.stop()
    base = results[0]["seconds"]
    print(f"{'round':<15} {'answered':>9} {'twice':>6} {'seconds':>8} {'vs baseline':>12} {'after fault':>12}")
    for r in results:
        after = f"{r['after_fault_s']:.1f}s" if r["after_fault_s"] is not None else "-"
        print(
            f"{r['round']:<15} {r['answered']:>4}/{r['messages']:<4} {r['answered_twice']:>6} {r['seconds']:>7.1f}s "
            f"{r['seconds'] / base:>11.2f}x {after:>12}"
        )
    return 0 if all(r["answered"] == r["messages"] and not r["answered_twice"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
