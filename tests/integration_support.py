"""Real processes for integration tests: a Celery worker on the configured broker and test database, and on the
test's clock when it is pinned (tests/clock.py)."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.db import connection

from tests.clock import python_command, python_env

ROOT = Path(__file__).resolve().parents[1]


def database_url_for_tests() -> str:
    """DATABASE_URL with the test database's name, so a child process writes where the test reads."""
    params = connection.settings_dict
    user = params["USER"] or ""
    password = f":{params['PASSWORD']}" if params["PASSWORD"] else ""
    host = params["HOST"] or "127.0.0.1"
    port = f":{params['PORT']}" if params["PORT"] else ""
    return f"postgres://{user}{password}@{host}{port}/{params['NAME']}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def sandbox_served(size: str = "small") -> Iterator[str]:
    """`python -m sandbox serve` on a free port, at the test's clock; yields its endpoint URL."""
    env = python_env(dict(os.environ, COSTPLANE_SANDBOX_SIZE=size))
    server = subprocess.Popen(
        python_command("sandbox", "serve", "--port", str(free_port()), "--size", size),
        cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        line = server.stdout.readline()
        assert line.startswith("sandbox ready on "), f"the sandbox did not start: {line!r}"
        yield line.split(" on ", 1)[1].strip()
    finally:
        server.terminate()
        server.wait(timeout=20)


@contextmanager
def celery_worker(
    queues: str = "ingest,compute,actions",
    extra_env: dict[str, str] | None = None,
    *,
    pool: str = "solo",
    name: str = "test",
) -> Iterator[subprocess.Popen]:
    """A worker process (`pool="prefork"`: a main process and one child that runs the tasks, as in production);
    each worker of a test needs its own `name`."""
    env = python_env(dict(os.environ, DATABASE_URL=database_url_for_tests(), DEBUG="true", **(extra_env or {})))
    hostname = f"{name}-{os.getpid()}@%h"
    worker = subprocess.Popen(
        python_command("celery", "-A", "config", "worker", "-Q", queues, "-c", "1", "-P", pool,
                       "-n", hostname, "-l", "warning", "--without-gossip", "--without-mingle", "--without-heartbeat"),
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        time.sleep(0.5)
        if worker.poll() is not None:
            raise RuntimeError(f"the Celery worker exited at start:\n{worker.stdout.read()}")
        yield worker
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=15 if settings.CELERY_BROKER_URL.startswith("filesystem") else 5)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


def wait_for(predicate, timeout: float = 30.0, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()
