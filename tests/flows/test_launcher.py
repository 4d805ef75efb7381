"""`make run` as a new user runs it, on embedded defaults in a var directory of its own: every
process supervised, faults healed without anyone's hand, Flower behind its login, a secret of
its own, and nothing left running after Ctrl-C."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from bmc.launcher import _free_port
from tests.conftest import ROOT, wait_for

pytestmark = pytest.mark.worker


def get(url: str, auth: str | None = None, method: str = "GET") -> tuple[int, str]:
    request = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    if auth:
        request.add_header("Authorization", f"Basic {base64.b64encode(auth.encode()).decode()}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
    except OSError as error:
        return 0, str(error)


class System:
    def __init__(self, var: Path):
        self.var = var
        self.ports = {"WEB_PORT": _free_port(), "FLOWER_PORT": _free_port(), "EMBEDDED_REDIS_PORT": _free_port()}
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND", "SECRET_KEY")
        }
        env.update({k: str(v) for k, v in self.ports.items()}, BMC_VAR_DIR=str(var))
        self.output = (var.parent / "run.log").open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bmc.launcher", "run"],
            cwd=ROOT,
            env=env,
            stdout=self.output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.env = env

    @property
    def web(self) -> str:
        return f"http://127.0.0.1:{self.ports['WEB_PORT']}"

    def healthy(self) -> bool:
        return get(f"{self.web}/health/detailed")[0] == 200

    def ctl(self, *args: str) -> str:
        return subprocess.run(
            [str(Path(sys.executable).parent / "supervisorctl"), "-c", str(self.var / "supervisord.conf"), *args],
            capture_output=True,
            text=True,
        ).stdout.strip()

    def pid(self, program: str) -> int:
        return int(self.ctl("pid", program) or 0)

    def log(self) -> str:
        return (self.var.parent / "run.log").read_text()

    def stop(self) -> int:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
        try:
            return self.process.wait(timeout=90)
        finally:
            self.output.close()


def descendants(pid: int) -> set[int]:
    """Every process started under `pid`, from /proc (Linux)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").exists() and " Z " not in Path(f"/proc/{pid}/stat").read_text()


@pytest.fixture
def system(tmp_path) -> System:
    running = System(tmp_path / "var")
    started = set()
    try:
        wait_for(running.healthy, timeout=180, interval=0.5)
        yield running
        started = descendants(running.process.pid)
    finally:
        code = running.stop()
        print(running.log()[-3000:])
    assert code == 0
    # Ctrl-C stopped every process it had started, Redis included
    assert len(started) >= 14
    time.sleep(1)
    assert [pid for pid in started if alive(pid)] == []


def test_make_run_heals_each_fault_alone_and_guards_its_secrets(system):
    var = system.var
    banner = system.log()
    # the banner tells the real ports and Flower's login, once
    assert f"web :{system.ports['WEB_PORT']}" in banner and f"Flower :{system.ports['FLOWER_PORT']}" in banner
    login = (var / "flower-credentials").read_text().strip()
    assert f"Flower login (shown once, kept in {var / 'flower-credentials'}): {login}" in banner
    for secret in ("flower-credentials", "secret_key", "supervisord.conf"):
        assert (var / secret).stat().st_mode & 0o777 == 0o600, secret

    # Flower: its API runs nothing for whoever is not logged in
    flower = f"http://127.0.0.1:{system.ports['FLOWER_PORT']}"
    assert get(f"{flower}/api/task/async-apply/tasks.orchestrator.reap_tasks", method="POST")[0] == 401
    assert get(f"{flower}/api/workers")[0] == 401
    assert get(f"{flower}/api/workers", auth=login)[0] == 200

    # a worker's main process killed: that worker alone is started again
    web_pid, quote_pid = system.pid("bmc:web"), system.pid("bmc:worker_quote")
    os.kill(quote_pid, signal.SIGKILL)
    wait_for(lambda: system.pid("bmc:worker_quote") not in (0, quote_pid), timeout=30)
    assert system.pid("bmc:web") == web_pid
    wait_for(system.healthy, timeout=60, interval=0.5)

    # beat stopped with a plain SIGTERM: started again
    beat_pid = system.pid("bmc:beat")
    os.kill(beat_pid, signal.SIGTERM)
    wait_for(lambda: system.pid("bmc:beat") not in (0, beat_pid), timeout=30)

    # the embedded Redis killed: started again, and the system is whole again on its own
    redis_pid = system.pid("redis")
    os.kill(redis_pid, signal.SIGKILL)
    started = time.monotonic()
    wait_for(lambda: system.pid("redis") not in (0, redis_pid), timeout=30)
    wait_for(system.healthy, timeout=90, interval=0.5)
    print(f"whole again {time.monotonic() - started:.1f}s after Redis was killed")
    assert system.pid("bmc:web") == web_pid  # nothing else was restarted for it
    assert "the broker started empty" in system.log()

    assert len((var / "secret_key").read_text().strip()) >= 50
    assert json.loads(get(f"{system.web}/health")[1])["status"] == "ok"
