"""Costplane settings: one module, read from the environment.

Every value comes from an environment variable through the small helpers below, which raise
ImproperlyConfigured on a value they cannot read. The defaults are the ones `make run` needs on a
fresh machine: DEBUG on, the simulated (sandbox) AWS account, no real actions. An integration
switches on when its variables are set; nothing exists only in production.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("COSTPLANE_DATA_DIR", BASE_DIR / ".data"))

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str | None = None) -> str:
    value = os.environ.get(name)
    if value is None:
        if default is None:
            raise ImproperlyConfigured(f"Set the {name} environment variable.")
        return default
    return value


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    folded = value.strip().lower()
    if folded in _TRUE:
        return True
    if folded in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={value!r} is not a boolean; use true or false.")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    value = os.environ.get(name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not an integer.") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name}={number} must be at least {minimum}.")
    return number


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = os.environ.get(name, default).strip().lower()
    if value not in choices:
        raise ImproperlyConfigured(f"{name}={value!r} must be one of: {', '.join(choices)}.")
    return value


DEBUG = env_bool("DEBUG", False)
if DEBUG:
    SECRET_KEY = env_str("SECRET_KEY", "insecure-development-key-only-for-debug")
else:
    SECRET_KEY = env_str("SECRET_KEY")
# `testserver` is the host of Django's test client, used by scripted checks outside pytest.
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    # Before staticfiles: runserver (`make run`) then leaves static files to WhiteNoise, which serves compressed copies.
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "django_tables2",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "finops",
    "capacity",
    "dashboards",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
                "dashboards.context_processors.navigation",
            ],
        },
    },
]

# Without DATABASE_URL, `make run` and `make test` start a private Postgres whose URL they export;
# the fallback here is that cluster's default address so `manage.py` works beside them.
DATABASE_URL = env_str("DATABASE_URL", "postgres://costplane@127.0.0.1:54329/costplane")
try:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
except ValueError as error:
    raise ImproperlyConfigured(f"DATABASE_URL is not a database URL: {error}") from None
if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
    raise ImproperlyConfigured("DATABASE_URL must name a PostgreSQL database (postgres://...).")

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboards:overview"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = DATA_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # collectstatic writes a gzip copy beside each file that shrinks (plotly.js 1.1 MB -> 0.37 MB); WhiteNoise sends
    # it to browsers that accept gzip.
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}


def static_collected(sources: list[Path], collected: Path) -> bool:
    """Whether collectstatic's output holds a copy of every file under `sources` at least as new as the file."""
    for source in sources:
        for path in source.rglob("*"):
            copy = collected / path.relative_to(source)
            if path.is_file() and (not copy.is_file() or copy.stat().st_mtime < path.stat().st_mtime):
                return False
    return True


# WhiteNoise serves collectstatic's output, compressed copies included, once it is up to date with static/: `make run`
# and the Docker image collect before they serve. Until then (tests, or static/ edited since) it serves the files
# where they are, uncompressed.
WHITENOISE_USE_FINDERS = not static_collected(STATICFILES_DIRS, STATIC_ROOT)

# --- REST API -------------------------------------------------------------------------------
API_PAGE_MAX_LIMIT = env_int("COSTPLANE_API_MAX_LIMIT", 500, minimum=1)
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first: an unauthenticated request then gets 401 with a WWW-Authenticate header.
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["finops.permissions.IsViewer"],
    "DEFAULT_PAGINATION_CLASS": "config.pagination.CappedLimitOffsetPagination",
    "PAGE_SIZE": 100,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "config.api.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Costplane API",
    "DESCRIPTION": "Cost, allocation, unit economics and capacity for AI infrastructure on AWS.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # The reports' cost bases (billed, effective, list) and a budget's (billed, effective) are different sets.
    "ENUM_NAME_OVERRIDES": {"ReportCostBasisEnum": "finops.reports.COST_BASES"},
}

# --- Celery ---------------------------------------------------------------------------------
# Without CELERY_BROKER_URL the broker is kombu's filesystem transport under .data/: it needs no
# server, crosses processes, and a 0.1 s polling interval keeps a round trip near 60 ms.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://")
CELERY_BROKER_FOLDER = DATA_DIR / "broker"
if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_BROKER_FOLDER / "queue"),
        "data_folder_out": str(CELERY_BROKER_FOLDER / "queue"),
        "control_folder": str(CELERY_BROKER_FOLDER / "control"),
        "processed_folder": str(CELERY_BROKER_FOLDER / "processed"),
        "store_processed": False,
        "polling_interval": 0.1,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 30 * 60, minimum=1)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 35 * 60, minimum=1)
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_DEFAULT_QUEUE = "compute"
CELERY_TASK_QUEUES_NAMES = ("ingest", "compute", "actions")
# Every task of ours by its registered name, and its queue: `ingest` pulls from AWS (slow, network-bound),
# `actions` changes resources (waits up to an hour), `compute` works on our own data and must not wait behind
# either. Exact names, no patterns, so renaming a task cannot move it to another queue; a task missing here
# fails tests/config/test_celery_worker.py (it would run on the default queue, compute).
CELERY_TASK_ROUTES = {
    "finops.tasks.ingestion_schedule_all": {"queue": "ingest"},
    "finops.tasks.ingestion_run_execute": {"queue": "ingest"},
    "finops.tasks.cost_explorer_ingest": {"queue": "ingest"},
    "finops.tasks.cost_anomalies_aws_ingest_all": {"queue": "ingest"},
    "finops.tasks.worker_heartbeat_record": {"queue": "compute"},
    "finops.tasks.notifications_retry": {"queue": "compute"},
    "finops.tasks.cost_anomalies_detect": {"queue": "compute"},
    "finops.tasks.billing_periods_finalise_by_age": {"queue": "compute"},
    "finops.tasks.billing_retention_apply": {"queue": "compute"},
    "finops.tasks.export_runs_stale_fail": {"queue": "compute"},
    "capacity.tasks.capacity_ingest_all": {"queue": "ingest"},
    "capacity.tasks.capacity_ingest": {"queue": "ingest"},
    "capacity.tasks.prices_ingest": {"queue": "ingest"},
    "capacity.tasks.compute_optimizer_ingest_all": {"queue": "ingest"},
    "capacity.tasks.compute_optimizer_ingest": {"queue": "ingest"},
    "capacity.tasks.actions_due": {"queue": "actions"},
    "capacity.tasks.action_execute_task": {"queue": "actions"},
    "capacity.tasks.gpu_demand_refresh": {"queue": "compute"},
    "capacity.tasks.derived_refresh_when_settled": {"queue": "compute"},
    "capacity.tasks.spend_forecasts_refresh_task": {"queue": "compute"},
    "capacity.tasks.gpu_rightsizing_compute": {"queue": "compute"},
    "capacity.tasks.recommendations_snoozes_end": {"queue": "compute"},
    "capacity.tasks.realised_savings_measure": {"queue": "compute"},
    "capacity.tasks.alerts_evaluate": {"queue": "compute"},
    "capacity.tasks.policies_run": {"queue": "compute"},
    "capacity.tasks.leases_sweep": {"queue": "compute"},
}
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = "UTC"
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# --- Costplane ------------------------------------------------------------------------------
# `sandbox` answers every AWS call from the simulated account; `aws` talks to real AWS. Real AWS
# is used only when asked for here, never because credentials happen to be on the machine.
COSTPLANE_AWS = env_choice("COSTPLANE_AWS", "sandbox", ("sandbox", "aws"))
# The global kill switch for actions against real AWS (stop, resize, delete). Sandbox actions
# always run; each real account starts in dry run on top of this.
COSTPLANE_ACTIONS_ENABLED = env_bool("COSTPLANE_ACTIONS_ENABLED", False)
COSTPLANE_AWS_REGION = env_str("COSTPLANE_AWS_REGION", "us-east-1")
COSTPLANE_SANDBOX_SIZE = env_choice("COSTPLANE_SANDBOX_SIZE", "small", ("small", "full"))
# Where the sandbox's moto server listens; `make run` starts it. Blank: in-process (tests).
COSTPLANE_SANDBOX_ENDPOINT = env_str("COSTPLANE_SANDBOX_ENDPOINT", "")
COSTPLANE_TEAM_TAG_KEY = env_str("COSTPLANE_TEAM_TAG_KEY", "team")
# Policies skip resources whose tag under this key says `prod` unless the policy includes prod explicitly.
COSTPLANE_ENVIRONMENT_TAG_KEY = env_str("COSTPLANE_ENVIRONMENT_TAG_KEY", "environment")
# A running action whose worker has not refreshed its heartbeat for this long is resolved by looking at AWS.
COSTPLANE_ACTION_LEASE_MINUTES = env_int("COSTPLANE_ACTION_LEASE_MINUTES", 15, minimum=1)
COSTPLANE_ALLOCATION_TAG_KEYS = env_list("COSTPLANE_ALLOCATION_TAG_KEYS", ["team", "project", "environment"])
COSTPLANE_BACKFILL_MONTHS = env_int("COSTPLANE_BACKFILL_MONTHS", 13, minimum=1)
COSTPLANE_REVISION_DAYS = env_int("COSTPLANE_REVISION_DAYS", 3, minimum=0)
# A billing period whose source carries no invoice id (FOCUS before 1.2) becomes final this many days after it ends.
COSTPLANE_BILLING_FINAL_AFTER_DAYS = env_int("COSTPLANE_BILLING_FINAL_AFTER_DAYS", 15, minimum=0)
# Months of billing rows kept before the current one (each month a partition, detached and dropped when older);
# 0 keeps everything.
COSTPLANE_BILLING_RETENTION_MONTHS = env_int("COSTPLANE_BILLING_RETENTION_MONTHS", 0, minimum=0)
# PostgreSQL work_mem inside a billing import's transaction: the rollups' GROUP BY over a month's lines hashes in
# memory instead of sorting on disk (a 1M-line month: 5 s instead of 13). PostgreSQL's own units ("128MB").
COSTPLANE_IMPORT_WORK_MEM = env_str("COSTPLANE_IMPORT_WORK_MEM", "128MB")
# Parallel export ingestion (docs/runbooks.md, "Parallel export imports"). A running import whose worker is gone and
# whose scope's advisory lock has been free this long is marked failed and queued again, once.
COSTPLANE_INGEST_STALE_MINUTES = env_int("COSTPLANE_INGEST_STALE_MINUTES", 10, minimum=1)
# Sized to the work: one statement of an import (the replace of a large month) may take this long, and an import waits
# this long for another import of its scope. PostgreSQL cancels a statement past it, so that nothing of a lost import
# holds its locks for longer.
COSTPLANE_INGEST_STATEMENT_TIMEOUT_SECONDS = env_int("COSTPLANE_INGEST_STATEMENT_TIMEOUT_SECONDS", 30 * 60, minimum=1)
# An import's transaction sits idle while a file downloads or a batch is prepared; past this PostgreSQL ends the
# session (a worker whose host vanished without closing its connection).
COSTPLANE_INGEST_IDLE_TIMEOUT_SECONDS = env_int("COSTPLANE_INGEST_IDLE_TIMEOUT_SECONDS", 10 * 60, minimum=1)
# For the worker-loss tests only: the first delivery of an export import sleeps this long in PostgreSQL before it
# commits, so that a test can kill its worker mid-statement. 0 (the default) never sleeps.
COSTPLANE_INGEST_TEST_PAUSE_SECONDS = env_int("COSTPLANE_INGEST_TEST_PAUSE_SECONDS", 0, minimum=0)
# How long /healthz waits for the broker before calling it down.
COSTPLANE_HEALTH_TIMEOUT = env_int("COSTPLANE_HEALTH_TIMEOUT", 3, minimum=1)

# --- Cost anomalies (finops/anomalies.py) -----------------------------------------------------
# A day is anomalous when (cost − median of the same weekday over the previous 8 weeks) is at least this
# many robust standard deviations (1.4826 × MAD) ...
COSTPLANE_ANOMALY_SCORE = env_int("COSTPLANE_ANOMALY_SCORE", 4, minimum=1)
# ... and at least this many USD above that median: small absolute wobbles are never worth a look.
COSTPLANE_ANOMALY_MIN_IMPACT = env_int("COSTPLANE_ANOMALY_MIN_IMPACT", 50, minimum=0)
# Complete days re-examined on every run: AWS revises the most recent days.
COSTPLANE_ANOMALY_LOOKBACK_DAYS = env_int("COSTPLANE_ANOMALY_LOOKBACK_DAYS", 3, minimum=1)
# An incident (one spike, whatever dimensions saw it) whose impact reaches this many USD opens a cost-anomaly alert
# through the notification channels; smaller ones are listed on the Anomalies page only. Channels' own
# min_amount filters further.
COSTPLANE_ANOMALY_ALERT_MIN_IMPACT = env_int("COSTPLANE_ANOMALY_ALERT_MIN_IMPACT", 200, minimum=0)
# Feedback "expected" or "not an anomaly" suppresses new anomalies of the same service/account/team for
# this many days, unless the day's cost is more than COSTPLANE_ANOMALY_SUPPRESS_RISE_PERCENT above the
# acknowledged day's cost.
COSTPLANE_ANOMALY_SUPPRESS_DAYS = env_int("COSTPLANE_ANOMALY_SUPPRESS_DAYS", 14, minimum=0)
COSTPLANE_ANOMALY_SUPPRESS_RISE_PERCENT = env_int("COSTPLANE_ANOMALY_SUPPRESS_RISE_PERCENT", 25, minimum=0)

# --- Alerts, notifications and /metrics -------------------------------------------------------
# Stale ingestion: an enabled account with no successful ingestion run for this many hours. Ingestion
# runs every 8 hours, so 36 hours means several runs in a row failed or never ran.
COSTPLANE_ALERT_STALE_INGESTION_HOURS = env_int("COSTPLANE_ALERT_STALE_INGESTION_HOURS", 36, minimum=1)
# Unallocated share: percent of the last complete 7 days' cost without the team tag.
COSTPLANE_ALERT_UNALLOCATED_PERCENT = env_int("COSTPLANE_ALERT_UNALLOCATED_PERCENT", 20, minimum=0)
# Quota headroom: alert when less than this percent of a quota is left.
COSTPLANE_ALERT_QUOTA_HEADROOM_PERCENT = env_int("COSTPLANE_ALERT_QUOTA_HEADROOM_PERCENT", 10, minimum=0)
# Capacity plan: how long a quota increase or a reservation takes to arrive (request_by = p95 crossing - this), and
# how close a request-by date makes a quota "soon".
COSTPLANE_CAPACITY_LEAD_TIME_DAYS = env_int("COSTPLANE_CAPACITY_LEAD_TIME_DAYS", 42, minimum=0)
COSTPLANE_CAPACITY_SOON_DAYS = env_int("COSTPLANE_CAPACITY_SOON_DAYS", 14, minimum=0)
# How often a first install's derive step (collect_capacity --then-derive) checks whether billing and collection landed.
COSTPLANE_DERIVE_POLL_SECONDS = env_int("COSTPLANE_DERIVE_POLL_SECONDS", 20, minimum=1)
# Seconds a webhook may take to answer before the send counts as failed (and is retried).
COSTPLANE_NOTIFY_TIMEOUT = env_int("COSTPLANE_NOTIFY_TIMEOUT", 10, minimum=1)
# Failed notifications are retried every 10 minutes until this many tries.
COSTPLANE_NOTIFY_MAX_ATTEMPTS = env_int("COSTPLANE_NOTIFY_MAX_ATTEMPTS", 5, minimum=1)
# Base URL of the UI, for links in notifications (blank: no links).
COSTPLANE_BASE_URL = env_str("COSTPLANE_BASE_URL", "").rstrip("/")
# /metrics: a Bearer token when set; and only from these client addresses or networks.
COSTPLANE_METRICS_TOKEN = env_str("COSTPLANE_METRICS_TOKEN", "")
COSTPLANE_METRICS_ALLOW = env_list("COSTPLANE_METRICS_ALLOW", ["127.0.0.1", "::1"])
for _network in COSTPLANE_METRICS_ALLOW:
    try:
        ipaddress.ip_network(_network, strict=False)
    except ValueError:
        raise ImproperlyConfigured(f"COSTPLANE_METRICS_ALLOW: {_network!r} is not an address or network.") from None
# Email for channels with an address; without EMAIL_HOST mail is printed to the console (make run).
EMAIL_HOST = env_str("EMAIL_HOST", "")
if EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_PORT = env_int("EMAIL_PORT", 587, minimum=1)
    EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
    EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "costplane@localhost")
EMAIL_TIMEOUT = COSTPLANE_NOTIFY_TIMEOUT

# --- Logging --------------------------------------------------------------------------------
LOG_LEVEL = env_choice("LOG_LEVEL", "info", ("debug", "info", "warning", "error")).upper()
LOG_FORMAT = {"text": "plain", "json": "json"}[env_choice("COSTPLANE_LOG_FORMAT", "text", ("text", "json"))]
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        # One JSON object a line (time, level, logger, message, exc) for log shippers.
        "json": {"()": "config.logging.JsonFormatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Django's own console handler would print each of its records a second time.
        "django": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
        "django.db.backends": {"level": "WARNING"},
        "botocore": {"level": "WARNING"},
        "urllib3": {"level": "WARNING"},
    },
}

if not DEBUG:
    SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", True)
    CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", True)
    SECURE_CONTENT_TYPE_NOSNIFF = True
