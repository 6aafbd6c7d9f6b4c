"""Time to a usable page for every page of the top navigation, on the full-size sandbox (issue 14, item 9).

Run from the repository root: `python bench/pages.py` (or `make bench`).

- Data: the database DATABASE_URL names when it already holds the sandbox account's data (after `make run`, say),
  read as it is. Otherwise a scratch database, `costplane_bench_pages` on the same server, seeded the way `make run`
  seeds (scripts/devstack.py: a full-size sandbox account, its billing, capacity and what is derived from them, with
  Celery tasks run eagerly in place of a worker) and dropped at the end unless --keep-database.
- Server: Django's development server started as `make run` starts it (collectstatic, runserver, static files through
  WhiteNoise, compressed) on a free port, or `--url URL` for a server that already runs (signing in with --user and
  --password).
- Browser: Debian's Chromium through Playwright at 1440x900. Each page is opened once to warm up (browser cache,
  server, database), then RUNS times, the pages interleaved. Time to usable: from the start of the navigation until
  the page has loaded, no request is in flight (htmx panels loaded with hx-trigger="load" included), every plotly
  chart is drawn (each .plotly-graph-div holds a .main-svg) and the DOM has been still for half a second; the figure
  is the last of those moments (the page's load event, the last response, the last change to the DOM), not the time
  the bench noticed.

Prints each page's median of RUNS against the target, with the three runs and the main document's server time.
Exits 0 even when a target is missed (a benchmark, not a test), and when Chromium is missing it says so and exits 0.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TARGET_SECONDS = 1.5  # issue 14, item 9: every page usable in under 1.5 s
RUNS = 3
QUIET_MS = 500  # the DOM and the network still this long: the page is done
PAGE_TIMEOUT_S = 60
SCRATCH_DATABASE = "costplane_bench_pages"
DEFAULT_DATABASE_URL = "postgres://costplane@127.0.0.1:54329/costplane"  # config/settings.py's default
BENCH_USER = "costplane-bench"

# Records the moment of the last change to the DOM, in the page's clock (milliseconds since navigation start).
WATCH_SCRIPT = """
(() => {
  const state = window.__benchPage = {lastChange: 0};
  new MutationObserver(() => { state.lastChange = performance.now(); })
    .observe(document, {subtree: true, childList: true, characterData: true});
})();
"""
STATE_SCRIPT = """
() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const charts = [...document.querySelectorAll('.plotly-graph-div')];
  const responses = performance.getEntriesByType('resource').map(entry => entry.responseEnd);
  return {
    complete: document.readyState === 'complete',
    htmxBusy: document.querySelectorAll('.htmx-request').length,
    charts: charts.length,
    drawn: charts.filter(chart => chart.querySelector('.main-svg')).length,
    lastChange: (window.__benchPage || {lastChange: 0}).lastChange,
    loadEnd: nav ? nav.loadEventEnd : 0,
    documentEnd: nav ? nav.responseEnd : 0,
    lastResponse: Math.max(0, ...responses),
    now: performance.now(),
  };
}
"""


def devstack():
    """scripts/devstack.py, what `make run` runs: the same set-up steps and the same server."""
    spec = importlib.util.spec_from_file_location("devstack", ROOT / "scripts" / "devstack.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def database_url_named(url: str, name: str) -> str:
    return urlsplit(url)._replace(path=f"/{name}").geturl()


# --- data ----------------------------------------------------------------------------------------
def sandbox_rows(url: str) -> tuple[int, int] | None:
    """(billing rows, resources) in the database, or None when it has no Costplane tables or no data."""
    import psycopg

    try:
        with psycopg.connect(url, connect_timeout=5) as conn:
            billing = conn.execute("SELECT count(*) FROM finops_costrecord").fetchone()[0]
            resources = conn.execute("SELECT count(*) FROM capacity_resource").fetchone()[0]
    except psycopg.Error:
        return None
    return (billing, resources) if billing and resources else None


def scratch_drop(url: str) -> None:
    import psycopg

    admin_url = database_url_named(url, "postgres")
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{urlsplit(url).path.lstrip("/")}" WITH (FORCE)')


def scratch_seed(url: str) -> None:
    """A full-size sandbox account in the scratch database, seeded as `make run` seeds it."""
    os.environ["COSTPLANE_SANDBOX_PORT"] = str(free_port())  # beside a `make run` that holds the default port
    stack = devstack()
    scratch_drop(url)
    stack.database_ensure(url)
    env = dict(os.environ, DATABASE_URL=url, DEBUG="true", COSTPLANE_SANDBOX_SIZE="full")
    env["CELERY_TASK_ALWAYS_EAGER"] = "true"  # the tasks `make run` queues for its worker run in place
    stack.manage(env, "migrate", "--no-input", "-v", "0")
    started = time.monotonic()
    sandbox = stack.sandbox_start(env)
    try:
        stack.sandbox_wait(sandbox)
        stack.sandbox_connect(env)
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=30)
    print(f"seeded {SCRATCH_DATABASE} in {time.monotonic() - started:.0f} s", flush=True)


# --- server --------------------------------------------------------------------------------------
def bench_user_ensure() -> str:
    """A Costplane admin for the bench, with a fresh password (the bench signs in through the login page)."""
    from finops.services.core import admin_user_ensure

    password = secrets.token_urlsafe(16)
    admin_user_ensure(username=BENCH_USER, email="bench@localhost", password=password)
    return password


def server_start(env: dict[str, str]) -> tuple[subprocess.Popen, str, Path]:
    """The web process of `make run` (collectstatic first, then runserver) on a free port."""
    stack = devstack()
    stack.static_collect(env)
    port = free_port()
    log = Path(tempfile.mkstemp(prefix="costplane-bench-pages-", suffix=".log")[1])
    with log.open("w") as output:
        process = subprocess.Popen(
            stack.web_argv(f"127.0.0.1:{port}"), env=env, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT
        )
    deadline = time.monotonic() + 120
    while not stack.port_open(port):
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"the server did not start; its output:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)
    return process, f"http://127.0.0.1:{port}", log


def server_stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()


# --- browser -------------------------------------------------------------------------------------
def pages() -> list[tuple[str, str]]:
    import django
    from django.urls import reverse

    django.setup()
    from dashboards.navigation import NAVIGATION

    return [(label, reverse(name)) for name, label in NAVIGATION]


def sign_in(page, base_url: str, user: str, password: str) -> None:
    page.goto(f"{base_url}/accounts/login/")
    page.fill("#id_username", user)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_load_state("load")
    if "/accounts/login/" in page.url:
        raise SystemExit(f"could not sign in as {user!r} at {base_url}")


def time_to_usable(page, url: str) -> dict:
    """Open `url` and wait until it is usable; the moments are in milliseconds since the navigation started."""
    in_flight: set = set()

    def started(request) -> None:
        in_flight.add(request)

    def ended(request) -> None:
        in_flight.discard(request)

    page.on("request", started)
    page.on("requestfinished", ended)
    page.on("requestfailed", ended)
    try:
        response = page.goto(url, wait_until="commit", timeout=PAGE_TIMEOUT_S * 1000)
        status = response.status if response else None
        deadline = time.monotonic() + PAGE_TIMEOUT_S
        while True:
            state = page.evaluate(STATE_SCRIPT)
            settled = max(state["lastChange"], state["lastResponse"], state["loadEnd"])
            if (
                state["complete"]
                and not in_flight
                and not state["htmxBusy"]
                and state["drawn"] == state["charts"]
                and state["now"] - settled >= QUIET_MS
            ):
                return {"status": status, "usable_ms": settled, "document_ms": state["documentEnd"], **state}
            if time.monotonic() > deadline:
                return {"status": status, "usable_ms": None, "document_ms": state["documentEnd"], **state}
            page.wait_for_timeout(50)
    finally:
        page.remove_listener("request", started)
        page.remove_listener("requestfinished", ended)
        page.remove_listener("requestfailed", ended)


def measure(base_url: str, user: str, password: str, runs: int) -> dict[str, list[dict]]:
    from playwright.sync_api import sync_playwright

    results: dict[str, list[dict]] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1440, "height": 900})
        context.add_init_script(WATCH_SCRIPT)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        sign_in(page, base_url, user, password)
        targets = pages()
        for _label, path in targets:  # warm-up, not counted
            time_to_usable(page, base_url + path)
        for _run in range(runs):
            for label, path in targets:
                results.setdefault(label, []).append(time_to_usable(page, base_url + path))
        browser.close()
    if errors:
        print(f"script errors seen while measuring ({len(errors)}): {errors[:3]}")
    return results


# --- report --------------------------------------------------------------------------------------
def report(results: dict[str, list[dict]], runs: int) -> None:
    heading = f"{'page':<17} {'median':>7}  {'runs (s)':<20} {'document (s)':>12}  {'charts':>6}"
    print(f"{heading}  target {TARGET_SECONDS} s")
    met = 0
    for label, measured in results.items():
        usable = [m["usable_ms"] for m in measured]
        statuses = {m["status"] for m in measured}
        if None in usable:
            median_text, verdict = f">{PAGE_TIMEOUT_S}", "MISSED (never settled)"
        else:
            median = statistics.median(usable) / 1000
            median_text = f"{median:.2f}"
            verdict = "ok" if median < TARGET_SECONDS else "MISSED"
            met += median < TARGET_SECONDS
        if statuses != {200}:
            verdict += f" (HTTP {', '.join(map(str, sorted(statuses, key=str)))})"
        runs_text = " ".join("-" if u is None else f"{u / 1000:.2f}" for u in usable)
        document = statistics.median(m["document_ms"] for m in measured) / 1000
        charts = max(m["charts"] for m in measured)
        print(f"{label:<17} {median_text:>7}  {runs_text:<20} {document:>12.2f}  {charts:>6}  {verdict}")
    print(f"VERDICT: {met} of {len(results)} pages usable in under {TARGET_SECONDS} s (median of {runs} warm runs)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="measure the server already running at this address instead of starting one")
    parser.add_argument("--user", default="admin", help="with --url: who signs in")
    parser.add_argument("--password", default=os.environ.get("COSTPLANE_ADMIN_PASSWORD"), help="with --url")
    parser.add_argument("--runs", type=int, default=RUNS)
    parser.add_argument("--keep-database", action="store_true", help="keep the scratch database it seeded")
    arguments = parser.parse_args()

    if not CHROMIUM.exists():
        print(f"SKIPPED: Chromium is not installed at {CHROMIUM} (apt-get install chromium); nothing measured.")
        return 0

    if arguments.url:
        if not arguments.password:
            parser.error("--url needs --password (or COSTPLANE_ADMIN_PASSWORD)")
        print(f"server: {arguments.url} (already running)", flush=True)
        report(measure(arguments.url.rstrip("/"), arguments.user, arguments.password, arguments.runs), arguments.runs)
        return 0

    url = os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
    seeded_here = False
    held = sandbox_rows(url)
    if held is None:
        url = database_url_named(url, SCRATCH_DATABASE)
        held = sandbox_rows(url)
        if held is None:
            print(f"no sandbox data in DATABASE_URL's database: seeding {SCRATCH_DATABASE} (full size)", flush=True)
            scratch_seed(url)
            held = sandbox_rows(url)
            seeded_here = True
            if held is None:
                raise SystemExit("seeding left no billing rows or resources")
    os.environ["DATABASE_URL"] = url
    env = dict(os.environ, DEBUG="true")
    env.pop("CELERY_TASK_ALWAYS_EAGER", None)
    print(f"data: {urlsplit(url).path.lstrip('/')}, {held[0]:,} billing rows, {held[1]:,} resources", flush=True)
    try:
        import django

        django.setup()
        devstack().manage(env, "migrate", "--no-input", "-v", "0")
        password = bench_user_ensure()
        process, base_url, log = server_start(env)
        print(f"server: {base_url} (runserver as under make run; log {log})", flush=True)
        try:
            report(measure(base_url, BENCH_USER, password, arguments.runs), arguments.runs)
        finally:
            server_stop(process)
    finally:
        if seeded_here and not arguments.keep_database:
            scratch_drop(url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
