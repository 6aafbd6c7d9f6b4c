"""Set up and run Costplane on one machine: what `make run` and `make test` call.

    devstack.py run              private services if needed, migrate, bootstrap, then web + worker + beat
    devstack.py exec -- CMD...   private services if needed, run CMD with their URLs, stop them after

DATABASE_URL and CELERY_BROKER_URL, when set, are used as they are and nothing is started for them.
Without DATABASE_URL a private PostgreSQL cluster lives in .data/pg (kept between runs). Without
CELERY_BROKER_URL the broker is kombu's filesystem transport under .data/broker (config/settings.py).
As root, PostgreSQL refuses to run, so the server runs as the unprivileged `postgres` user: through
runuser when that user can reach the checkout (the data folder is chowned, nothing outside the
checkout changes), else inside a user namespace (unshare) with no chown at all. Standard library only:
this runs before anything else is known to work.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("COSTPLANE_DATA_DIR", ROOT / ".data"))
PG_DIR = DATA / "pg"
PG_PORT = int(os.environ.get("COSTPLANE_PG_PORT", "54329"))
PG_USER = "costplane"
PG_DB = "costplane"
PY = sys.executable
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def say(message: str) -> None:
    print(f"[costplane] {message}", flush=True)


def fail(message: str) -> None:
    print(f"[costplane] error: {message}", file=sys.stderr, flush=True)
    sys.exit(2)


# --- PostgreSQL ------------------------------------------------------------------------------
def pg_bindir() -> Path | None:
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parent.parent.name), reverse=True
    )
    for found in candidates + [shutil.which("initdb") or ""]:
        if found and Path(found).exists() and (Path(found).parent / "pg_ctl").exists():
            return Path(found).parent
    return None


def pg_install() -> Path:
    if IS_ROOT and shutil.which("apt-get"):
        say("PostgreSQL is not installed; installing it from Debian's packages (apt-get install postgresql)")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "update", "-q"], check=True, env=env, stdout=subprocess.DEVNULL)
        subprocess.run(
            ["apt-get", "install", "-y", "-q", "--no-install-recommends", "postgresql"],
            check=True,
            env=env,
            stdout=subprocess.DEVNULL,
        )
        bindir = pg_bindir()
        if bindir:
            return bindir
    fail(
        "PostgreSQL server binaries (initdb, pg_ctl) were not found. Install PostgreSQL 15 or newer, "
        "or set DATABASE_URL to an existing database."
    )
    raise AssertionError  # unreachable


def pg_runner() -> list[str]:
    """The prefix that runs a PostgreSQL binary as an unprivileged user."""
    if not IS_ROOT:
        return []
    owner_is_root = PG_DIR.exists() and PG_DIR.stat().st_uid == 0 and any(PG_DIR.iterdir())
    reachable = (
        subprocess.run(["runuser", "-u", "postgres", "--", "test", "-x", str(DATA.parent)], cwd="/").returncode == 0
    )
    if reachable and not owner_is_root:
        return ["runuser", "-u", "postgres", "--"]
    return ["unshare", "--user", "--map-user=postgres", "--map-group=postgres", "--"]


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def pg_start() -> tuple[str, bool]:
    """Start the private cluster; returns its URL and whether this call started it."""
    url = f"postgres://{PG_USER}@127.0.0.1:{PG_PORT}/{PG_DB}"
    bindir = pg_bindir() or pg_install()
    runner = pg_runner()
    DATA.mkdir(exist_ok=True)
    fresh = not (PG_DIR / "PG_VERSION").exists()
    if fresh:
        PG_DIR.mkdir(exist_ok=True)
        if runner[:1] == ["runuser"]:
            shutil.chown(PG_DIR, "postgres", "postgres")
        say(f"creating a private PostgreSQL cluster in {PG_DIR}")
        subprocess.run(
            [*runner, str(bindir / "initdb"), "-D", str(PG_DIR), "-U", PG_USER, "--auth=trust", "-E", "UTF8",
             "--no-sync", "--locale=C.UTF-8"],
            check=True, cwd="/", stdout=subprocess.DEVNULL,
        )  # fmt: skip
    status = subprocess.run(
        [*runner, str(bindir / "pg_ctl"), "status", "-D", str(PG_DIR)], cwd="/", capture_output=True
    )
    if status.returncode == 0:
        say(f"private PostgreSQL already running on port {PG_PORT}; using it")
        return url, False
    if port_open(PG_PORT):
        fail(f"port {PG_PORT} is taken by another program; set COSTPLANE_PG_PORT to a free port or set DATABASE_URL.")
    options = f"-c listen_addresses=127.0.0.1 -p {PG_PORT} -c unix_socket_directories='' -c fsync=off"
    log = str(PG_DIR / "server.log")
    subprocess.run(
        [*runner, str(bindir / "pg_ctl"), "start", "-D", str(PG_DIR), "-w", "-t", "60", "-l", log, "-o", options],
        check=True, cwd="/", stdout=subprocess.DEVNULL,
    )  # fmt: skip
    if fresh:
        subprocess.run(
            [str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(PG_PORT), "-U", PG_USER, PG_DB],
            check=True,
            cwd="/",
        )
    say(f"private PostgreSQL started on 127.0.0.1:{PG_PORT} (data in {PG_DIR})")
    return url, True


def pg_stop() -> None:
    bindir = pg_bindir()
    if bindir is None:
        return
    subprocess.run(
        [*pg_runner(), str(bindir / "pg_ctl"), "stop", "-D", str(PG_DIR), "-m", "fast", "-w"],
        cwd="/",
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    say("private PostgreSQL stopped")


# --- Environment -----------------------------------------------------------------------------
def services_up() -> tuple[dict[str, str], bool]:
    """The environment for Costplane's processes; starts a private Postgres when DATABASE_URL is unset."""
    env = dict(os.environ)
    started = False
    if not env.get("DATABASE_URL"):
        env["DATABASE_URL"], started = pg_start()
    else:
        say("using DATABASE_URL from the environment")
        database_ensure(env["DATABASE_URL"])
    if env.get("CELERY_BROKER_URL"):
        say("using CELERY_BROKER_URL from the environment")
    else:
        say(f"broker: kombu filesystem transport in {DATA / 'broker'}")
    env.setdefault("PYTHONUNBUFFERED", "1")
    # `make run` and `make test` are development commands: DEBUG allows the built-in secret key.
    env.setdefault("DEBUG", "true")
    return env, started


def database_ensure(url: str) -> None:
    """Create the named database on an existing server when it is missing (nothing else is started)."""
    from urllib.parse import urlsplit

    import psycopg

    name = urlsplit(url).path.lstrip("/")
    if not name:
        return
    admin_url = urlsplit(url)._replace(path="/postgres").geturl()
    try:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
            if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
                conn.execute(f'CREATE DATABASE "{name}"')
                say(f"created database {name}")
    except psycopg.Error as error:
        say(f"could not check database {name!r} on DATABASE_URL's server ({error}); carrying on")


def manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([PY, str(ROOT / "manage.py"), *args], check=True, env=env, cwd=ROOT)


def static_collect(env: dict[str, str]) -> None:
    """Copy static files into STATIC_ROOT with a gzip copy beside each: WhiteNoise then serves them compressed under
    the development server too, as in production (config/settings.py)."""
    manage(env, "collectstatic", "--no-input", "-v", "0")


def web_argv(address: str = "127.0.0.1:8000") -> list[str]:
    """The web process of `make run`: Django's development server, static files left to WhiteNoise."""
    return [PY, str(ROOT / "manage.py"), "runserver", address, "--noreload"]


def ensure_chromium() -> None:
    """Browser tests drive Debian's Chromium; install it when missing and we may."""
    if Path("/usr/bin/chromium").exists():
        return
    if IS_ROOT and shutil.which("apt-get"):
        say("installing Debian's chromium for the browser tests (apt-get install chromium)")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "update", "-q"], check=True, env=env, stdout=subprocess.DEVNULL)
        subprocess.run(["apt-get", "install", "-y", "-q", "chromium"], check=True, env=env, stdout=subprocess.DEVNULL)
    else:
        say("Chromium (/usr/bin/chromium) is missing and cannot be installed here: browser tests will skip")


# --- Commands --------------------------------------------------------------------------------
def command_exec(argv: list[str]) -> int:
    if not argv:
        fail("exec needs a command after --")
    if os.environ.get("COSTPLANE_WITH_CHROMIUM", "1") == "1":
        ensure_chromium()
    env, started = services_up()
    try:
        return subprocess.run(argv, env=env, cwd=ROOT).returncode
    finally:
        if started:
            pg_stop()


SANDBOX_PORT = int(os.environ.get("COSTPLANE_SANDBOX_PORT", "5055"))


def sandbox_start(env: dict[str, str]) -> subprocess.Popen:
    """Start the simulated AWS account (moto server, seeded fleet and exports); `sandbox_wait` waits for it."""
    if port_open(SANDBOX_PORT):
        fail(f"port {SANDBOX_PORT} is taken; set COSTPLANE_SANDBOX_PORT to a free port for the sandbox.")
    say(f"starting the sandbox AWS account ({env['COSTPLANE_SANDBOX_SIZE']} size) on port {SANDBOX_PORT}")
    env["COSTPLANE_SANDBOX_ENDPOINT"] = f"http://127.0.0.1:{SANDBOX_PORT}"
    return subprocess.Popen(
        [PY, "-m", "sandbox", "serve", "--port", str(SANDBOX_PORT), "--size", env["COSTPLANE_SANDBOX_SIZE"]],
        env=env, cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip


def sandbox_wait(process: subprocess.Popen) -> None:
    for line in process.stdout:
        print(line, end="", flush=True)
        if line.startswith("sandbox ready on "):
            # Keep draining its output so a full pipe never blocks the server.
            threading.Thread(target=lambda: [print(rest, end="") for rest in process.stdout], daemon=True).start()
            return
    fail(f"the sandbox exited before it was ready (exit code {process.wait()})")


def sandbox_connect(env: dict[str, str]) -> None:
    """Register the sandbox's management account and its members; queue billing and capacity collection."""
    from sandbox.catalogue import MANAGEMENT_ACCOUNT_ID, TEAMS
    from sandbox.exports import BUCKET, PREFIX

    for team in TEAMS:
        manage(env, "add_team", team.title(), "--tag-value", team)
    regions = [arg for region in ("us-east-1", "us-west-2", "eu-west-1") for arg in ("--region", region)]
    manage(
        env, "add_cloud_account", MANAGEMENT_ACCOUNT_ID, "--name", "sandbox management", *regions,
        "--export-uri", f"s3://{BUCKET}/{PREFIX}/", "--discover-members", "--ingest",
    )  # fmt: skip
    manage(env, "collect_capacity", "--then-derive", "150")
    # An example off-hours policy for the dev machines, in dry run (as every new policy): the Policies page shows
    # what it would stop and start, and nothing is changed.
    manage(
        env, "add_policy", "Dev machines off-hours", "--action", "stop_start", "--kind", "ec2_instance",
        "--kind", "sagemaker_notebook", "--tag", "environment=dev", "--schedule", "off=(M-F,19);on=(M-F,7);tz=UTC",
    )  # fmt: skip


def command_run() -> int:
    env, started = services_up()
    env.setdefault("COSTPLANE_SANDBOX_SIZE", "full")
    children: list[subprocess.Popen] = []

    def stop_all(*_: object) -> None:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for child in children:
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
        if started:
            pg_stop()

    def spawn(*argv: str) -> None:
        children.append(subprocess.Popen(list(argv), env=env, cwd=ROOT))

    # Ctrl-C or a TERM stops everything, even when started from a shell that ignores SIGINT.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        sandbox = env.get("COSTPLANE_AWS", "sandbox") == "sandbox"
        if sandbox:
            # It seeds for a while (the full fleet's metrics); the web UI does not wait for it.
            children.append(sandbox_start(env))
        manage(env, "migrate", "--no-input", "-v", "0")
        manage(env, "costplane_bootstrap")
        static_collect(env)
        spawn(*web_argv())
        say("serving http://127.0.0.1:8000 (Ctrl-C stops everything)")
        if sandbox:
            sandbox_wait(children[0])
            sandbox_connect(env)
        celery = [PY, "-m", "celery", "-A", "config"]
        spawn(*celery, "worker", "-Q", "ingest,compute,actions", "-c", "2", "-l", "info", "-n", "costplane@%h")
        spawn(*celery, "beat", "-l", "info")
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
        say("a process exited; stopping the rest")
        return 1
    except KeyboardInterrupt:
        say("stopping")
        return 0
    except subprocess.CalledProcessError as error:
        say(f"set-up step failed: {' '.join(map(str, error.cmd))}")
        return 1
    finally:
        stop_all()


def main() -> int:
    args = sys.argv[1:]
    if args[:1] == ["run"]:
        return command_run()
    if args[:1] == ["exec"]:
        rest = args[1:]
        if rest[:1] == ["--"]:
            rest = rest[1:]
        return command_exec(rest)
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main())
