"""Static files: every one a template names exists, and the servers send them compressed.

`make run` (Django's development server, scripts/devstack.py) and production (gunicorn, the Docker image) both serve
collectstatic's output through WhiteNoise, which sends the gzip copy collectstatic wrote to a browser that accepts it.
These tests start those servers as real processes on a collectstatic run of their own.
"""

from __future__ import annotations

import gzip
import importlib.util
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import quote

import pytest
from django.contrib.staticfiles import finders

from config.settings import static_collected

ROOT = Path(__file__).resolve().parents[2]
PLOTLY = "vendor/plotly-basic.min.js"
STATIC_TAG = re.compile(r"""{%\s*static\s+['"]([^'"]+)['"]\s*%}""")


def devstack():
    spec = importlib.util.spec_from_file_location("devstack", ROOT / "scripts" / "devstack.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def fetch(url: str, **headers: str) -> tuple[dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        return {key.lower(): value for key, value in response.headers.items()}, response.read()


def wait_until_served(process: subprocess.Popen, url: str, log: Path) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the server exited with {process.returncode} before answering:\n{log.read_text()[-3000:]}")
        try:
            fetch(url)
            return
        except (urllib.error.URLError, ConnectionError, TimeoutError):  # a worker still starting on a loaded machine
            time.sleep(0.3)
    pytest.fail(f"nothing answered {url} within 90 s:\n{log.read_text()[-3000:]}")


def database_url_of_the_tests() -> str:
    """The test database's URL: the servers check it at start (migrations), though static files need no database."""
    from django.db import connection

    db = connection.settings_dict
    credentials = quote(db["USER"]) + (f":{quote(db['PASSWORD'])}" if db["PASSWORD"] else "")
    return f"postgres://{credentials}@{db['HOST']}:{db['PORT']}/{quote(db['NAME'])}"


@pytest.fixture(scope="module")
def collected(tmp_path_factory) -> Path:
    """A data folder after `make run`'s collectstatic (which needs no database)."""
    data_dir = tmp_path_factory.mktemp("data")
    devstack().static_collect(dict(os.environ, COSTPLANE_DATA_DIR=str(data_dir), DEBUG="true"))
    return data_dir


@pytest.fixture
def collected_env(collected, db):
    """The environment `make run` gives its processes, with that data folder."""
    return dict(os.environ, COSTPLANE_DATA_DIR=str(collected), DEBUG="true", DATABASE_URL=database_url_of_the_tests())


def serve(argv: list[str], env: dict[str, str], port: int):
    log = Path(env["COSTPLANE_DATA_DIR"]) / "server.log"
    with log.open("w") as output:
        process = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT)
    try:
        wait_until_served(process, f"http://127.0.0.1:{port}/static/{PLOTLY}", log)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture
def make_run_server(collected_env):
    port = free_port()
    yield from serve(devstack().web_argv(f"127.0.0.1:{port}"), collected_env, port)


@pytest.fixture
def production_server(collected_env):
    env = dict(collected_env, DEBUG="false", SECRET_KEY="static-files-test-only", ALLOWED_HOSTS="127.0.0.1")
    port = free_port()
    argv = [sys.executable, "-m", "gunicorn", "config.wsgi:application", "--bind", f"127.0.0.1:{port}", "-w", "1"]
    yield from serve(argv, env, port)


def assert_served_compressed(base_url: str) -> None:
    original = (ROOT / "static" / PLOTLY).read_bytes()
    headers, body = fetch(f"{base_url}/static/{PLOTLY}", **{"Accept-Encoding": "gzip"})
    assert headers.get("content-encoding") == "gzip"
    assert "accept-encoding" in headers.get("vary", "").lower()
    assert len(body) < 0.4 * len(original), f"{len(body)} bytes sent for a {len(original)}-byte file"
    assert gzip.decompress(body) == original

    headers, body = fetch(f"{base_url}/static/{PLOTLY}", **{"Accept-Encoding": "identity"})
    assert "content-encoding" not in headers
    assert body == original


def test_every_static_file_a_template_names_exists():
    named = {
        (template.relative_to(ROOT), name)
        for template in (ROOT / "templates").rglob("*.html")
        for name in STATIC_TAG.findall(template.read_text())
    }
    assert any(name == PLOTLY for _template, name in named)
    missing = sorted(f"{template}: {name}" for template, name in named if finders.find(name) is None)
    assert missing == []


@pytest.mark.integration
def test_make_runs_development_server_sends_plotly_gzip_compressed(make_run_server):
    assert_served_compressed(make_run_server)


@pytest.mark.integration
def test_the_production_server_sends_plotly_gzip_compressed(production_server):
    assert_served_compressed(production_server)


def test_collected_static_files_count_as_current_until_a_source_file_changes(tmp_path):
    source, collected = tmp_path / "static", tmp_path / "staticfiles"
    (source / "css").mkdir(parents=True)
    (source / "css" / "site.css").write_text("body {}")
    assert not static_collected([source], collected)

    (collected / "css").mkdir(parents=True)
    (collected / "css" / "site.css").write_text("body {}")
    assert static_collected([source], collected)

    later = time.time() + 60
    os.utime(source / "css" / "site.css", (later, later))
    assert not static_collected([source], collected)
