"""What keeps pytest-xdist workers (`pytest -n N`) apart beyond their databases: each worker gets its own broker.

pytest-django already gives each worker its own test database (test_<name>_gw0, _gw1, ...). The integration tests
start real Celery workers that consume the queues `ingest`, `compute` and `actions`: on one shared broker, xdist
worker gw0's Celery worker could take a task that gw1's test queued and write it into gw0's database, where gw1's
test never sees it. So each xdist worker moves to its own broker, in this process (Django settings, the Celery
app) and in the environment its child processes inherit:
- Redis: the database number plus the worker's index (`redis://host:6379/4` -> /4, /5, /6 for gw0, gw1, gw2);
- kombu's filesystem transport: its folders under COSTPLANE_DATA_DIR/xdist/gwN (settings derive them from it).
A run without xdist changes nothing.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

REDIS_DATABASES = 16  # Redis' default `databases`


def worker_index(config: pytest.Config) -> int | None:
    """0 for xdist's gw0, 1 for gw1, ...; None outside xdist."""
    worker = getattr(config, "workerinput", {}).get("workerid")
    return int(worker.removeprefix("gw")) if worker else None


def redis_url_for_worker(url: str, index: int) -> str:
    """The same Redis server, the database `index` places after the configured one (wrapping at 16)."""
    parts = urlsplit(url)
    base = int(parts.path.strip("/") or 0)
    return urlunsplit(parts._replace(path=f"/{(base + index) % REDIS_DATABASES}"))


def _filesystem_options(data_dir: Path) -> dict[str, str]:
    # The same folders config/settings.py derives from COSTPLANE_DATA_DIR.
    broker = data_dir / "broker"
    return {
        "data_folder_in": str(broker / "queue"),
        "data_folder_out": str(broker / "queue"),
        "control_folder": str(broker / "control"),
        "processed_folder": str(broker / "processed"),
    }


def pytest_configure(config: pytest.Config) -> None:
    index = worker_index(config)
    if index is None:
        return
    from django.conf import settings

    from config.celery import app

    url = settings.CELERY_BROKER_URL
    if url.startswith("redis"):
        url = redis_url_for_worker(url, index)
        os.environ["CELERY_BROKER_URL"] = url
        settings.CELERY_BROKER_URL = app.conf.broker_url = url
    elif url.startswith("filesystem://"):
        data_dir = Path(settings.DATA_DIR) / "xdist" / f"gw{index}"
        options = {**settings.CELERY_BROKER_TRANSPORT_OPTIONS, **_filesystem_options(data_dir)}
        for key in ("data_folder_in", "control_folder", "processed_folder"):
            Path(options[key]).mkdir(parents=True, exist_ok=True)
        os.environ["COSTPLANE_DATA_DIR"] = str(data_dir)
        settings.CELERY_BROKER_TRANSPORT_OPTIONS = app.conf.broker_transport_options = options
