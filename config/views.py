"""/healthz: is the database reachable, is the broker reachable. No data, so no login."""

from __future__ import annotations

import os

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from kombu import Connection


def _database_ok() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as error:  # any failure means "down"; the message says which
        return f"{type(error).__name__}: {error}"
    return None


def _broker_ok() -> str | None:
    try:
        url = settings.CELERY_BROKER_URL
        with Connection(url, transport_options=settings.CELERY_BROKER_TRANSPORT_OPTIONS) as conn:
            conn.ensure_connection(max_retries=1, timeout=settings.COSTPLANE_HEALTH_TIMEOUT)
        if url.startswith("filesystem://"):
            folder = settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"]
            if not os.access(folder, os.W_OK):
                return f"broker folder {folder} is not writable"
    except Exception as error:
        return f"{type(error).__name__}: {error}"
    return None


@never_cache
@require_GET
def healthz(request):
    checks = {"database": _database_ok(), "broker": _broker_ok()}
    down = {name: problem for name, problem in checks.items() if problem}
    body = {
        "status": "ok" if not down else "down",
        "checks": {name: problem or "ok" for name, problem in checks.items()},
    }
    return JsonResponse(body, status=503 if down else 200)
