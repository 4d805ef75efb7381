"""`make chaos`: faults under load, with the books kept.

    make chaos                      (SQLite: the PostgreSQL round is skipped)
    make chaos CHAOS_DATABASE_URL=postgres://postgres@127.0.0.1:5432/chaos
    .venv/bin/python bench/chaos.py [--messages 30] [--rounds baseline,worker,...]

Starts the whole system as `make run` does (bench/recovery.py's System: supervisord, the
embedded Redis, one worker per queue, beat) in var/chaos on free ports, with Meta's WhatsApp
Cloud API and the model (OpenAI's chat completions) played by fakes of this script: replies
really go out (OUTBOUND_CHANNEL=whatsapp) and the fake counts each send it accepted, per
customer. Then one round per fault. A round posts the README's quote request from phones of its
own, RATE a second from CLIENTS clients, as n8n does (POST /api/v1/messages) or Meta does (the
signed webhook), each sent again after Retry-After on 503 and 429, and after a second when
nothing answers, as they do. The fault strikes a third of the way into the posting (the model's,
from the start):

- baseline: none;
- worker: `kill -9` of the conversation worker's main process (supervisord starts it again);
- redis: `kill -9` of the embedded Redis, started again empty (beat notices, the reaper resends);
- postgres: the database refuses connections and those it had are cut, for OUTAGE seconds
  (`ALTER DATABASE ... ALLOW_CONNECTIONS false` and `pg_terminate_backend`, from the server's
  maintenance database: the server others use stays up); half the messages by the webhook;
- webhook: every message by the webhook, each delivered twice, the copy a moment later;
- beats: a second `celery beat` for the round, and the first round's follow-ups made due
  (quiet hours lifted; both beats scan every FOLLOWUP_SCAN_INTERVAL=5 s): each goes once;
- model-500, model-hang: the model answers 500, or holds every call past OPENAI_TIMEOUT;
- whatsapp-500, whatsapp-hang: the Cloud API answers 500, or holds each send past
  OUTBOUND_TIMEOUT and then answers 504 having sent nothing, for PROVIDER_FAULT seconds.

The books, per round: posted; accepted (a 2xx at last); answered (exactly one reply reached
that phone, by the fake's count); duplicates (more than one: a reply sent twice, or two
replies); lost (none within ANSWER_DEADLINE, past the reaper's deadlines); the 503 and 429
answers the clients were asked to wait by, and the 500s (none is the point); the slowest answer
(first post to the reply's send); recovery (from the fault until the last message was
answered). Duplicates are counted again at the end over the whole run, so a late copy shows.
Exits 1 if a message is lost, answered twice or answered 500. CHAOS_DATABASE_URL's database
is dropped and created again, so its name must start with `chaos`; CHAOS_LOG_LEVEL (WARNING)
is the system's LOG_LEVEL, its logs in var/chaos/log/.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import psycopg
import redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.recovery import TEXT, System  # noqa: E402
from tests.fakes import FakeJsonServer, chat_completion, whatsapp_delivery  # noqa: E402

VAR = ROOT / "var" / "chaos"
PHONE_NUMBER_ID = "301822446011907"  # the business number of Meta's fixtures
RATE = 10  # messages a second
CLIENTS = 8
FAULT_AFTER = 1 / 3  # of a round's messages posted when its fault strikes
ANSWER_DEADLINE = 300  # s after the last message was accepted: past the reaper's 60 and 120 s
SETTLE = 5  # s after the last answer, for a second copy to show
OUTAGE = 10  # s of the database away
PROVIDER_FAULT = 15  # s of WhatsApp failing
OPENAI_TIMEOUT, OUTBOUND_TIMEOUT = 5, 10  # the settings' defaults, which the run keeps
# The built-in reader's reading of TEXT: the fake model's answer while it is well.
READING = {
    "intent": "quote_request",
    "confidence": 0.97,
    "entities": {
        "family": "ISODEC_EPS",
        "thickness_mm": 100,
        "use": "roof",
        "length_m": 6,
        "width_m": 4.48,
        "zone": "MONTEVIDEO",
        "shipping": True,
    },
}


class FakeService(FakeJsonServer):
    """A service outside, which `mode` makes fail: "500" answers 500 at once; "hang" holds the
    call `hang` seconds (past the client's timeout) and then answers 504, having done nothing;
    anything else is `well(request)`. The mode is read when a call arrives."""

    def __init__(self, hang: float):
        self.mode = "ok"
        self.hang = hang
        super().__init__(self._respond)

    def _respond(self, request: dict[str, Any]) -> tuple[int, Any]:
        mode = self.mode
        if mode == "hang":
            time.sleep(self.hang)
            return 504, {"error": {"message": "gateway timeout"}}
        if mode == "500":
            return 500, {"error": {"message": "internal error", "type": "server_error"}}
        return self.well(request)

    def well(self, request: dict[str, Any]) -> tuple[int, Any]:
        raise NotImplementedError


class FakeWhatsApp(FakeService):
    """POST /{phone-number-id}/messages of the Cloud API: each message it accepts is a send,
    recorded (to, when)."""

    def __init__(self) -> None:
        self.sends: list[tuple[str, float]] = []
        self.lock = threading.Lock()
        super().__init__(hang=OUTBOUND_TIMEOUT + 3)

    def well(self, request: dict[str, Any]) -> tuple[int, Any]:
        to = request["json"]["to"]
        with self.lock:
            self.sends.append((to, time.monotonic()))
            number = len(self.sends)
        return 200, {
            "messaging_product": "whatsapp",
            "contacts": [{"wa_id": to}],
            "messages": [{"id": f"wamid.{number}"}],
        }

    def sent(self, phone: str, since: float, until: float) -> list[float]:
        with self.lock:
            return [at for to, at in self.sends if to == phone and since <= at < until]


class FakeModel(FakeService):
    """POST /v1/chat/completions: a message read as the built-in reader reads it; a follow-up
    to reword comes back in the same words."""

    def __init__(self) -> None:
        super().__init__(hang=OPENAI_TIMEOUT + 3)

    def well(self, request: dict[str, Any]) -> tuple[int, Any]:
        asked = request["json"]
        content = json.dumps(READING) if "response_format" in asked else asked["messages"][-1]["content"]
        return 200, chat_completion(model=asked["model"], content=content)


class Database:
    """The run's PostgreSQL database, handled from the server's maintenance database."""

    def __init__(self, url: str):
        parts = urlsplit(url)
        self.name = parts.path.lstrip("/")
        if not self.name.startswith("chaos"):
            raise SystemExit(f"chaos: the database is dropped and created again: name it chaos..., not {self.name!r}")
        self.admin = {
            "dbname": "postgres",
            "host": parts.hostname or None,
            "port": parts.port or None,
            "user": unquote(parts.username) if parts.username else None,
            "password": unquote(parts.password) if parts.password else None,
            "autocommit": True,
        }

    def execute(self, *statements: str) -> None:
        with psycopg.connect(**self.admin) as connection:
            for statement in statements:
                connection.execute(statement)

    def recreate(self) -> None:
        self.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)', f'CREATE DATABASE "{self.name}"')

    def cut(self) -> None:
        self.execute(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{self.name}'")

    def allow(self, allowed: bool) -> None:
        self.execute(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS {str(allowed).lower()}')


@dataclass
class Post:
    phone: str  # digits, as Meta writes it
    via: str  # "api" or "webhook"
    copies: int = 1
    first_at: float = 0.0
    accepted: bool = False
    statuses: list[int] = field(default_factory=list)


@dataclass
class Row:
    name: str
    posted: int
    accepted: int | str
    answered: int
    duplicates: int
    lost: int
    waited: int  # 503 and 429 answers
    errors: int  # 500 answers
    slowest: float | None
    recovery: float | None


@dataclass
class Chaos:
    system: System
    whatsapp: FakeWhatsApp
    model: FakeModel
    secret: str
    database: Database | None
    played: list[Round] = field(default_factory=list)
    beat: subprocess.Popen | None = None
    scans_at_due: int = 0


Fault = Callable[[Chaos], Callable[[], None] | None]  # may return what heals it, once all is answered


@dataclass
class Round:
    key: str
    name: str
    fault: Fault | None = None
    from_start: bool = False
    via: str = "api"  # "api", "webhook" or "both" (alternately)
    copies: int = 1
    postgres: bool = False
    before: Callable[[Chaos, Round], None] | None = None
    after: Callable[[Chaos], None] | None = None
    # what was played: its messages, and the sends counted for them, from `start` until `until`
    posts: list[Post] = field(default_factory=list)
    start: float = 0.0
    until: float = float("inf")
    fault_at: float | None = None
    followups: list[str] = field(default_factory=list)  # phones owed one follow-up each
    skipped: str = ""


def deliver(chaos: Chaos, post: Post, deadline: float) -> None:
    """Sends the message until a 2xx, as n8n and Meta do; `copies` times (Meta's redelivery)."""
    if post.via == "api":
        body = {"channel": "n8n", "from": f"+{post.phone}", "text": TEXT, "external_id": f"chaos-{post.phone}"}
        data = json.dumps({**body, "sent_at": int(time.time())}).encode()
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {chaos.system.key}"}
        path = "/api/v1/messages"
    else:
        data, headers = whatsapp_delivery(
            phone=post.phone, message_id=f"wamid.chaos-{post.phone}", text=TEXT, secret=chaos.secret
        )
        path = "/api/v1/webhooks/whatsapp"
    post.first_at = time.monotonic()
    for copy in range(post.copies):
        if copy:
            time.sleep(random.uniform(0, 1))
        while time.monotonic() < deadline:
            status, _, answer = chaos.system.exchange("POST", path, data, headers)
            post.statuses.append(status)
            if 200 <= status < 300:
                post.accepted = True
                break
            if 400 <= status < 500 and status != 429:
                return  # refused for good: not accepted, and the books say so
            wait = float(answer.get("retry-after", 1)) if status in (429, 503) else 1.0
            time.sleep(min(wait, 30))


def play(chaos: Chaos, round_: Round, index: int, messages: int) -> None:
    vias = {"api": ["api"], "webhook": ["webhook"], "both": ["api", "webhook"]}[round_.via]
    round_.posts = [
        Post(phone=f"5989{index:03d}{i:04d}", via=vias[i % len(vias)], copies=round_.copies) for i in range(messages)
    ]
    if round_.before:
        round_.before(chaos, round_)
    round_.start = time.monotonic()
    heal = None
    strike = 0 if round_.from_start else int(messages * FAULT_AFTER)
    with ThreadPoolExecutor(CLIENTS) as pool:
        for i, post in enumerate(round_.posts):
            if i == strike and round_.fault:
                round_.fault_at = time.monotonic()
                striking = ThreadPoolExecutor(1)  # a fault may last (an outage): posting goes on
                heal_future = striking.submit(round_.fault, chaos)
            time.sleep(max(0.0, round_.start + i / RATE - time.monotonic()))
            pool.submit(deliver, chaos, post, time.monotonic() + ANSWER_DEADLINE)
    if round_.fault:
        heal = heal_future.result()
        striking.shutdown()
    phones = [p.phone for p in round_.posts if p.accepted] + round_.followups
    deadline = time.monotonic() + ANSWER_DEADLINE
    while time.monotonic() < deadline and not all(chaos.whatsapp.sent(p, round_.start, round_.until) for p in phones):
        time.sleep(0.5)
    if heal:
        heal()
    if round_.after:
        round_.after(chaos)
    time.sleep(SETTLE)


def books(chaos: Chaos, round_: Round) -> list[Row]:
    if round_.skipped:
        return [Row(f"{round_.name}: {round_.skipped}", 0, 0, 0, 0, 0, 0, 0, None, None)]

    def sends_to(phones: list[str]) -> list[list[float]]:
        return [chaos.whatsapp.sent(phone, round_.start, round_.until) for phone in phones]

    sends = sends_to([p.phone for p in round_.posts])
    answered_at = [s[0] for s in sends if s]
    statuses = [status for post in round_.posts for status in post.statuses]
    slowest = max((s[0] - p.first_at for p, s in zip(round_.posts, sends, strict=True) if s), default=None)
    recovery = max(answered_at) - round_.fault_at if round_.fault_at and answered_at else None
    rows = [
        Row(
            name=round_.name,
            posted=len(round_.posts),
            accepted=sum(p.accepted for p in round_.posts),
            answered=sum(len(s) == 1 for s in sends),
            duplicates=sum(len(s) > 1 for s in sends),
            lost=sum(not s for s in sends),
            waited=sum(s in (429, 503) for s in statuses),
            errors=sum(s == 500 for s in statuses),
            slowest=slowest,
            recovery=recovery,
        )
    ]
    if round_.followups:
        sends = sends_to(round_.followups)
        rows.append(
            Row(
                name="  ...its due follow-ups",
                posted=len(sends),
                accepted="-",
                answered=sum(len(s) == 1 for s in sends),
                duplicates=sum(len(s) > 1 for s in sends),
                lost=sum(not s for s in sends),
                waited=0,
                errors=0,
                slowest=None,
                recovery=None,
            )
        )
    return rows


# --- the faults -------------------------------------------------------------------------------


def kill(program: str) -> Fault:
    def fault(chaos: Chaos) -> None:
        pid = chaos.system.pid(program)
        if pid <= 0:  # os.kill(0) would kill this script's own process group
            raise RuntimeError(f"supervisord gives no pid for {program}")
        os.kill(pid, signal.SIGKILL)

    return fault


def database_away(chaos: Chaos) -> None:
    database = chaos.database
    database.allow(False)
    try:
        until = time.monotonic() + OUTAGE
        while time.monotonic() < until:  # and whatever was connecting meanwhile
            database.cut()
            time.sleep(1)
    finally:
        database.allow(True)


def failing(service: str, mode: str, seconds: float | None = None) -> Fault:
    """The service fails in `mode` for `seconds`, or until the round's messages are answered."""

    def fault(chaos: Chaos) -> Callable[[], None] | None:
        fake = getattr(chaos, service)
        fake.mode = mode
        if seconds is None:
            return lambda: setattr(fake, "mode", "ok")
        time.sleep(seconds)
        fake.mode = "ok"
        return None

    return fault


BEAT_LOG = VAR / "log" / "beat-second.log"
SCANS_AFTER_DUE = 3  # the second beat's follow-up scans once the follow-ups are due, at least


def second_beat_scans() -> int:
    return BEAT_LOG.read_text().count("Sending due task followup-scan-due") if BEAT_LOG.exists() else 0


def second_beat(chaos: Chaos, round_: Round) -> None:
    """A second beat, scanning by now, and the baseline round's follow-ups due: its phones are
    owed one follow-up each in this round (their sends count here from now on)."""
    log = BEAT_LOG.open("w")
    chaos.beat = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "bmc", "beat", "--loglevel=INFO"],
        cwd=ROOT,
        env={**chaos.system.manage_env, "LOG_LEVEL": "INFO"},  # its scans counted in its log
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    chaos.system.wait(lambda: second_beat_scans() > 0, 90, "the second beat's first follow-up scan")
    baseline = next((r for r in chaos.played if r.key == "baseline"), None)
    if baseline is None:
        return
    baseline.until = time.monotonic()
    phones = [f"+{post.phone}" for post in baseline.posts]
    due = chaos.system.manage(
        "shell",
        "-c",
        "from datetime import timedelta\n"
        "from django.utils import timezone\n"
        "from agents.sales.followup import policy_for\n"
        "from bmc.core.models import Tenant\n"
        "from bmc.sales.models import FollowUp\n"
        "policy = policy_for(tenant_id=Tenant.objects.get(slug='bmc').pk)\n"
        "policy.quiet_start = policy.quiet_end = None\n"
        "policy.quiet_weekdays = []\n"
        "policy.save()\n"
        f"rows = FollowUp.objects.filter(customer__phone__in={phones!r}, kind='step', step=1, status='scheduled')\n"
        "print(rows.update(due_at=timezone.now() - timedelta(minutes=1)))\n",
    )
    if int(due.split()[-1]) != len(phones):
        raise RuntimeError(f"{due.strip()} of the baseline's {len(phones)} follow-ups could be made due")
    round_.followups = [post.phone for post in baseline.posts]
    chaos.scans_at_due = second_beat_scans()


def second_beat_done(chaos: Chaos) -> None:
    """Once the second beat has scanned a few times more (and nothing more may go), it stops."""
    target = chaos.scans_at_due + SCANS_AFTER_DUE
    chaos.system.wait(lambda: second_beat_scans() >= target, 90, "the second beat's scans")
    second_beat_stop(chaos)
    print(f"chaos: the second beat sent {second_beat_scans()} follow-up scans", file=sys.stderr)


def second_beat_stop(chaos: Chaos) -> None:
    if chaos.beat is not None and chaos.beat.poll() is None:
        os.killpg(chaos.beat.pid, signal.SIGTERM)
        chaos.beat.wait(timeout=30)


ROUNDS = [
    Round("baseline", "baseline"),
    Round("worker", "conversation worker kill -9", fault=kill("bmc:worker_conversation")),
    Round("redis", "Redis killed, back empty", fault=kill("redis")),
    Round("postgres", f"PostgreSQL away {OUTAGE} s", fault=database_away, via="both", postgres=True),
    Round("webhook", "every webhook twice", via="webhook", copies=2),
    Round("beats", "two beats", before=second_beat, after=second_beat_done),
    Round("model-500", "model answers 500", fault=failing("model", "500"), from_start=True),
    Round("model-hang", "model hangs", fault=failing("model", "hang"), from_start=True),
    Round("whatsapp-500", f"WhatsApp 500 for {PROVIDER_FAULT} s", fault=failing("whatsapp", "500", PROVIDER_FAULT)),
    Round("whatsapp-hang", f"WhatsApp hangs for {PROVIDER_FAULT} s", fault=failing("whatsapp", "hang", PROVIDER_FAULT)),
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=30)
    parser.add_argument("--rounds", default=",".join(r.key for r in ROUNDS), help="which, by key, in this order")
    args = parser.parse_args()
    rounds = {r.key: r for r in ROUNDS}
    chosen = [rounds[key] for key in args.rounds.split(",")]
    url = os.environ.get("CHAOS_DATABASE_URL", "")
    database = Database(url) if url else None
    if database:
        database.recreate()
    whatsapp, model = FakeWhatsApp(), FakeModel()
    secret = secrets.token_urlsafe(16)
    env = {
        "OUTBOUND_CHANNEL": "whatsapp",
        "WHATSAPP_API_BASE": whatsapp.url,
        "WHATSAPP_TOKEN": "chaos",
        "WHATSAPP_PHONE_NUMBER_ID": PHONE_NUMBER_ID,
        "WHATSAPP_APP_SECRET": secret,
        "OPENAI_API_KEY": "chaos",
        "OPENAI_BASE_URL": f"{model.url}/v1",
        "FOLLOWUP_SCAN_INTERVAL": "5",
        "LOG_LEVEL": os.environ.get("CHAOS_LOG_LEVEL", "WARNING"),  # var/chaos/log/
        **({"DATABASE_URL": url, "SECRET_KEY": secrets.token_urlsafe(32)} if url else {}),
    }
    started = time.monotonic()
    system = System(var=VAR, env=env)
    chaos = Chaos(system=system, whatsapp=whatsapp, model=model, secret=secret, database=database)
    breakers = redis.Redis.from_url(system.manage_env["REDIS_URL"])
    try:
        for index, round_ in enumerate(chosen, start=1):
            if round_.postgres and not database:
                round_.skipped = "skipped, no CHAOS_DATABASE_URL"
                chaos.played.append(round_)
                continue
            system.wait(lambda: system.get("/health/detailed")[0] == 200, 180, f"health before {round_.key}")
            for key in breakers.scan_iter("bmc:breaker:*"):  # each round starts with them closed
                breakers.delete(key)
            print(f"chaos: round {round_.key}...", file=sys.stderr, flush=True)
            play(chaos, round_, index, args.messages)
            chaos.played.append(round_)
    finally:
        second_beat_stop(chaos)
        system.stop()
        whatsapp.close()
        model.close()
    rows = [row for round_ in chaos.played for row in books(chaos, round_)]  # at the end: late copies show
    print(f"\n{len(chaos.played)} rounds of {args.messages} messages in {time.monotonic() - started:.0f} s\n")
    print("| round | posted | accepted | answered once | duplicates | lost | 503/429 | 500 | slowest s | recovery s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        slowest = f"{r.slowest:.1f}" if r.slowest is not None else "-"
        recovery = f"{r.recovery:.1f}" if r.recovery is not None else "-"
        print(
            f"| {r.name} | {r.posted} | {r.accepted} | {r.answered} | {r.duplicates} | {r.lost} | {r.waited} "
            f"| {r.errors} | {slowest} | {recovery} |"
        )
    return 1 if any(r.lost or r.duplicates or r.errors for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
