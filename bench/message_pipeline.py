"""Benchmark: a customer's message to a stored reply, beside a bare-Celery baseline.

    .venv/bin/python bench/message_pipeline.py [--messages 300] [--rate 20] [--seconds 10]

Starts everything it needs on this machine (the embedded Redis unless REDIS_URL is set, a
fresh SQLite database under var/bench unless DATABASE_URL is set, gunicorn, the agents' worker
and a bare Celery worker with the same settings) and reports, in one run:

- ingest: POST /api/v1/messages per second vs a loop of no-op `delay()` calls (same client
  threads, no worker consuming); beside them the floor: `bench/ingest_floor.py`, a bare WSGI app
  that only stores the raw body and publishes a task (what any HTTP ingest costs at least);
- end-to-end throughput: a burst of messages until every reply is sent (its outbound task
  completed), vs a burst of chains of no-op tasks as long as the pipeline (2 hops: conversation
  turn, outbound send);
- latency p50/p99 at a steady rate (default 20 messages/s): accepted -> reply sent, vs
  chain sent -> last hop done; and the stages of ours, from the turn's and the send's task
  records (waiting for the turn, the turn, the hop to the send, the send).

Figures are ratios against the baseline measured in the same command. Not a test.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.cpu import cpu_seconds, cpu_used, per_item_ms  # noqa: E402
from bmc.launcher import EmbeddedRedis, _free_port, _port_open, die_with_parent  # noqa: E402

HOPS = 2
# where a paced message's latency goes, from its turn's and its send's task records
STAGES = ("accepted -> turn started", "turn", "turn done -> send started", "send")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


class System:
    def __init__(self, concurrency: int, var_name: str = "bench"):
        self.concurrency = concurrency
        self.processes: list[subprocess.Popen] = []
        self.workers: dict[int, str] = {}  # main process -> its queues, for the CPU figures
        self.redis: EmbeddedRedis | None = None
        self.var = ROOT / "var" / var_name

    def __enter__(self):
        shutil.rmtree(self.var, ignore_errors=True)
        self.var.mkdir(parents=True)
        env = dict(
            os.environ,
            DJANGO_SETTINGS_MODULE="bmc.settings",
            PYTHONUNBUFFERED="1",
            LOG_LEVEL="WARNING",
            BMC_VAR_DIR=str(self.var),
        )
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
        if not env.get("REDIS_URL"):
            self.redis = EmbeddedRedis(_free_port(), self.var / "redis")
            self.redis.start()
            env["REDIS_URL"] = self.redis.url
        self.env = env
        manage = [sys.executable, str(ROOT / "manage.py")]
        subprocess.run([*manage, "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
        subprocess.run([*manage, "bootstrap"], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
        # the bench's own company on the tier without quotas: limits stay on, its pace is within them
        subprocess.run([*manage, "set_tier", "--tenant", "bmc", "--tier", "enterprise"], cwd=ROOT, env=env, check=True)
        # whitenoise lists the static files when the web process starts (the staff pages need them)
        subprocess.run([*manage, "collectstatic", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
        self.key = (
            subprocess.run(
                [*manage, "create_api_key", "--tenant", "bmc", "--name", "bench"],
                cwd=ROOT,
                env=env,
                check=True,
                capture_output=True,
                text=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        self.port = self.web("bmc.asgi:application")
        return self

    def web(self, app: str) -> int:
        """The web server as the Procfile's `web:` line runs it (its processes and threads, their
        defaults), serving `app`; its port once it listens."""
        from bmc.queues import procfile_lines

        port = _free_port()
        web = next(line for line in procfile_lines() if line.startswith("web: "))
        command = web.removeprefix("web: ").replace("bmc.asgi:application", app, 1).replace("--access-logfile -", "")
        self.spawn(["bash", "-c", f"WEB_PORT={port}; exec {command} --log-level warning"])
        deadline = time.monotonic() + 60
        while not _port_open(port):
            if time.monotonic() > deadline:
                raise SystemExit(f"gunicorn {app} did not start")
            time.sleep(0.2)
        return port

    def spawn(self, command: list[str]) -> subprocess.Popen:
        log = open(self.var / f"{command[0]}-{len(self.processes)}.log", "w")
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
        self.processes.append(process)
        return process

    def worker(self, app: str, queues: str) -> subprocess.Popen:
        from bmc.queues import QUEUE_WORKER_OPTIONS

        # the product's own options for its queues (the baseline's queue has none)
        extra = [option for queue in queues.split(",") for option in QUEUE_WORKER_OPTIONS.get(queue, ())]
        name = f"bench-{len(self.processes)}@%h"
        process = self.spawn(
            [
                "celery",
                "-A",
                app,
                "worker",
                "-Q",
                queues,
                "-n",
                name,
                f"--concurrency={self.concurrency}",
                "--without-mingle",
                "--without-gossip",
                "--loglevel=WARNING",
                *extra,
            ]
        )
        self.workers[process.pid] = f"worker {queues}"
        time.sleep(6)  # boot; the workers then idle until work arrives
        return process

    def stop(self, process: subprocess.Popen) -> None:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)

    def __exit__(self, *exc):
        for process in reversed(self.processes):
            try:
                self.stop(process)
            except Exception:
                os.killpg(process.pid, signal.SIGKILL)
        if self.redis:
            self.redis.stop()


def run(args) -> dict:
    with System(args.concurrency) as system:
        # before anything imports bmc.settings (the baseline app reads its Celery settings)
        os.environ.update(REDIS_URL=system.env["REDIS_URL"], BMC_VAR_DIR=str(system.var))
        import redis

        from bench import baseline_app

        broker = redis.Redis.from_url(system.env["REDIS_URL"])
        headers = {"Authorization": f"Bearer {system.key}", "Content-Type": "application/json"}

        def post(i: int, prefix: str, port: int | None = None) -> float:
            # http.client, the lightest client at hand: the figure is the server's, not the client's
            started = time.time()
            body = json.dumps(
                {
                    "channel": "n8n",
                    "from": f"+5989{i:07d}",
                    "external_id": f"{prefix}-{i}",
                    "sent_at": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(started)),
                    "text": "cuanto sale isodec 100 para un techo de 6 x 4,48 con flete a montevideo",
                }
            )
            connection = http.client.HTTPConnection("127.0.0.1", port or system.port, timeout=60)
            connection.request("POST", "/api/v1/messages", body, headers)
            response = connection.getresponse()
            text = response.read()
            connection.close()
            assert response.status == 202, text
            return started

        def in_parallel(fn, items) -> float:
            started = time.perf_counter()
            with ThreadPoolExecutor(args.clients) as pool:
                list(pool.map(fn, items))
            return time.perf_counter() - started

        n = args.messages
        # -- ingest (no worker consumes) --
        base_ingest = n / in_parallel(lambda i: baseline_app.noop.delay(i), range(n))
        ours_ingest = n / in_parallel(lambda i: post(i, "ingest"), range(n))
        floor = system.web("bench.ingest_floor:asgi_application")
        floor_ingest = n / in_parallel(lambda i: post(i, "floor", port=floor), range(n))
        broker.flushdb()

        # -- end-to-end throughput: a burst, until every reply is stored --
        system.worker("bench.baseline_app", baseline_app.QUEUE)
        from celery import chain

        def baseline_chain(label: str) -> None:
            hops = [baseline_app.hop.s(time.time(), label)] + [baseline_app.hop.s(label) for _ in range(HOPS - 2)]
            chain(*hops, baseline_app.last_hop.s(label)).apply_async()

        started, cpu_before = time.perf_counter(), cpu_seconds(system.workers)
        with ThreadPoolExecutor(args.clients) as pool:
            list(pool.map(lambda i: baseline_chain(f"burst-{i}"), range(n)))
        while broker.hlen(baseline_app.DONE_KEY) < n:
            time.sleep(0.02)
        base_throughput = n / (time.perf_counter() - started)
        base_cpu = per_item_ms(cpu_used(cpu_before, cpu_seconds(system.workers)), n)
        broker.delete(baseline_app.DONE_KEY)

        system.worker("bmc", "conversation,outbound,quote")
        os.environ["DJANGO_SETTINGS_MODULE"] = "bmc.settings"
        os.environ["BMC_VAR_DIR"] = str(system.var)
        import django

        django.setup()
        from bmc.conversations.models import Message
        from bmc.jobs.models import AgentTask

        sends = AgentTask.objects.filter(task_type="outbound.send_message", status=AgentTask.Status.COMPLETED)

        def replies_sent() -> int:
            return sends.count()

        already = replies_sent()
        started, cpu_before = time.perf_counter(), cpu_seconds(system.workers)
        in_parallel(lambda i: post(i, "burst"), range(10_000, 10_000 + n))
        while replies_sent() - already < n:
            if time.perf_counter() - started > 600:
                raise SystemExit("replies did not all arrive within 10 minutes")
            time.sleep(0.05)
        ours_throughput = n / (time.perf_counter() - started)
        ours_cpu = per_item_ms(cpu_used(cpu_before, cpu_seconds(system.workers)), n)

        # -- latency at a steady rate --
        count = int(args.rate * args.seconds)
        interval = 1 / args.rate

        def paced(send) -> None:
            begin = time.perf_counter()
            with ThreadPoolExecutor(args.clients) as pool:
                for i in range(count):
                    delay = begin + i * interval - time.perf_counter()
                    if delay > 0:
                        time.sleep(delay)
                    pool.submit(send, i)

        paced(lambda i: baseline_chain(f"paced-{i}"))
        while broker.hlen(baseline_app.DONE_KEY) < count:
            time.sleep(0.02)
        base_latency = [
            float(e) - float(s) for s, e in (v.decode().split() for v in broker.hvals(baseline_app.DONE_KEY))
        ]

        first_pk = Message.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        first_task_pk = AgentTask.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        already = replies_sent()
        paced(lambda i: post(20_000 + i, "paced"))
        deadline = time.monotonic() + 120
        while replies_sent() - already < count and time.monotonic() < deadline:
            time.sleep(0.05)
        # accepted (the inbound row, written in the request) -> reply sent (its send task done),
        # and the stages in between, from the turn's and the send's task records
        send_tasks = {task.payload["message_id"]: task for task in sends.filter(pk__gt=first_task_pk)}
        turn_tasks = {
            task.payload.get("message_id"): task
            for task in AgentTask.objects.filter(pk__gt=first_task_pk, task_type="conversation.process_message")
        }
        ours_latency = []
        stages: dict[str, list[float]] = {name: [] for name in STAGES}
        for inbound in Message.objects.filter(pk__gt=first_pk, direction="in"):
            reply = (
                Message.objects.filter(conversation_id=inbound.conversation_id, direction="out", pk__gt=inbound.pk)
                .order_by("pk")
                .first()
            )
            send, turn = send_tasks.get(reply.pk) if reply else None, turn_tasks.get(inbound.pk)
            if send is None:
                continue
            ours_latency.append((send.finished_at - inbound.created_at).total_seconds())
            if turn is not None and turn.started_at and send.started_at:
                marks = (inbound.created_at, turn.started_at, turn.finished_at, send.started_at, send.finished_at)
                for name, begin, end in zip(STAGES, marks, marks[1:], strict=False):
                    stages[name].append((end - begin).total_seconds())

    report = {
        "database": "postgresql" if os.environ.get("DATABASE_URL", "").startswith("postgres") else "sqlite",
        "broker": "embedded redis" if system.redis else "REDIS_URL",
        "messages": n,
        "clients": args.clients,
        "worker_concurrency": args.concurrency,
        "rate": args.rate,
        "ingest_per_s": {
            "baseline_delay": round(base_ingest, 1),
            "messages_api": round(ours_ingest, 1),
            "ratio": round(ours_ingest / base_ingest, 3),
            # raw body stored and a task published, nothing else: the most any HTTP ingest can do
            "floor_raw_insert_publish": round(floor_ingest, 1),
            "floor_ratio": round(floor_ingest / base_ingest, 3),
        },
        "e2e_throughput_per_s": {
            "baseline_chain": round(base_throughput, 1),
            "pipeline": round(ours_throughput, 1),
            "ratio": round(ours_throughput / base_throughput, 3),
            # where the CPU went, in ms per message / per chain (two cores give 2,000 ms a second)
            "cpu_ms_baseline_chain": base_cpu,
            "cpu_ms_pipeline": ours_cpu,
        },
        "latency_ms": {
            "baseline_chain": {
                "p50": round(statistics.median(base_latency) * 1000, 1),
                "p99": round(percentile(base_latency, 99) * 1000, 1),
            },
            "pipeline": {
                "p50": round(statistics.median(ours_latency) * 1000, 1),
                "p99": round(percentile(ours_latency, 99) * 1000, 1),
                "answered": f"{len(ours_latency)}/{count}",
                "stages": {
                    name: {
                        "p50": round(statistics.median(values) * 1000, 1),
                        "p99": round(percentile(values, 99) * 1000, 1),
                    }
                    for name, values in stages.items()
                    if values
                },
            },
        },
    }
    report["latency_ms"]["p99_ratio"] = round(
        report["latency_ms"]["pipeline"]["p99"] / report["latency_ms"]["baseline_chain"]["p99"], 2
    )
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--rate", type=float, default=20)
    parser.add_argument("--seconds", type=float, default=10)
    report = run(parser.parse_args())
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
