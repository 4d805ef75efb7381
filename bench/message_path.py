"""The files a customer's message crosses, from the request to the reply sent.

    .venv/bin/python bench/message_path.py [--text "..."] [--all]

Runs in one process: a fresh SQLite database under var/message_path, the embedded Redis (or
REDIS_URL when set), the README's message posted to /api/v1/messages through Django's test
client, and a Celery worker in a thread consuming every queue. Each project file one of whose
functions runs between the request and the reply's send is recorded, in the order it is first
entered, and the calls that go from one file to another are counted. Records (models), settings,
the logging setup and the Celery app are listed apart (`--all` shows them): every path touches
them. Not a test: it counts the path so a change of structure can be compared with the one before.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
VAR = ROOT / "var" / "message_path"

from bench.inprocess import environment_running, system_prepare, worker_running  # noqa: E402

TEXT = "cuanto sale isodec 100 para un techo de 6 x 4,48 con flete a montevideo"
# Every path touches these; counted apart so the figure is the path's own files.
SHARED = ("models.py", "bmc/settings.py", "bmc/logging.py", "bmc/celery.py", "bmc/queues.py")
# The layers of .importlinter, from the top; a call from a lower layer into a higher one climbs
# back up (a callback). The first prefix that fits a file names its layer.
LAYERS = (
    ("web", ("bmc/api/", "bmc/urls.py", "/admin.py", "/api.py", "/webhook.py", "bmc/core/management/")),
    ("consumers", ("tasks/",)),
    ("services", ("agents/",)),
    ("jobs", ("bmc/jobs/", "tasks/orchestrator.py")),
    ("records", ("bmc/",)),
)


def layer_of(name: str) -> int:
    return next(i for i, (_, prefixes) in enumerate(LAYERS) if any(p in name or name.startswith(p) for p in prefixes))


def home_of(name: str) -> str:
    """The home a file belongs to: its package (agents/nlu, bmc/jobs...), or the module itself."""
    parts = name.split("/")
    return "/".join(parts[:2]) if len(parts) > 2 else name


class PathRecorder:
    """A profile hook: the project files entered, in order, and the calls between files."""

    def __init__(self) -> None:
        self.on = False
        self.files: dict[str, int] = {}
        self.hops: Counter[tuple[str, str]] = Counter()
        self.functions: dict[tuple[str, str], str] = {}
        self.lock = threading.Lock()

    def __call__(self, frame, event, arg):
        if not self.on or event != "call":
            return
        path = frame.f_code.co_filename
        if not path.startswith(str(ROOT)) or "/.venv/" in path or "/migrations/" in path:
            return
        name = os.path.relpath(path, ROOT)
        caller = frame.f_back
        origin = os.path.relpath(caller.f_code.co_filename, ROOT) if caller else ""
        with self.lock:
            self.files.setdefault(name, len(self.files))
            if origin != name and origin in self.files:
                self.hops[(origin, name)] += 1
                self.functions.setdefault((origin, name), f"{caller.f_code.co_name} -> {frame.f_code.co_name}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--text", default=TEXT)
    parser.add_argument("--all", action="store_true", help="list the shared files too")
    args = parser.parse_args()
    with environment_running(var=VAR):
        return run(args)


def run(args) -> int:
    # Django and Celery come after the environment is set: they read it when imported.
    from django.test import Client
    from django.utils import timezone

    client = Client(HTTP_AUTHORIZATION=f"Bearer {system_prepare(key_name='path')}")
    try:
        from bmc.conversations.models import Message
    except ImportError:  # before the conversations app had its models
        from bmc.core.models import Message

    recorder = PathRecorder()
    threading.setprofile(recorder)
    sys.setprofile(recorder)
    with worker_running():
        recorder.on = True
        response = client.post(
            "/api/v1/messages",
            {
                "channel": "n8n",
                "from": "+59899123456",
                "external_id": "path-1",
                "sent_at": timezone.now().isoformat(),
                "text": args.text,
            },
            content_type="application/json",
        )
        assert response.status_code == 202, response.content
        deadline = time.monotonic() + 60
        while not Message.objects.filter(direction="out", delivery_status="sent").exists():
            if time.monotonic() > deadline:
                print("no reply was sent within 60 s", file=sys.stderr)
                return 1
            time.sleep(0.1)
        recorder.on = False
    sys.setprofile(None)
    threading.setprofile(None)
    report(recorder, show_all=args.all)
    return 0


def report(recorder: PathRecorder, *, show_all: bool) -> None:
    files = sorted(recorder.files, key=recorder.files.get)
    own = [f for f in files if not f.endswith(SHARED)]
    shared = [f for f in files if f.endswith(SHARED)]
    homes = list(dict.fromkeys(home_of(f) for f in own))
    home_hops = {(home_of(a), home_of(b)) for a, b in recorder.hops if a in own and b in own} - {(h, h) for h in homes}
    own_hops = [hop for hop in recorder.hops if hop[0] in own and hop[1] in own]
    upward = [hop for hop in own_hops if layer_of(hop[1]) < layer_of(hop[0])]
    print(f"files on the path: {len(own)}; homes (a package, or a module of its own): {len(homes)}")
    print(f"  homes: {', '.join(homes)}")
    print(f"  hand-offs between homes: {len(home_hops)} distinct")
    print(f"  ({len(shared)} shared files apart: records, settings, logging, the Celery app)")
    for name in own:
        print(f"  {LAYERS[layer_of(name)][0]:<10} {name}")
    print(f"calls from one file to another: {len(own_hops)} distinct; climbing to a higher layer: {len(upward)}")
    for hop in upward:
        print(f"  {hop[0]} -> {hop[1]}  ({recorder.functions[hop]})")
    if show_all:
        print("shared:")
        for name in shared:
            print(f"  {name}")


if __name__ == "__main__":
    sys.exit(main())
