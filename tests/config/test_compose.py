"""docker-compose.yml, the Dockerfile and .env.example, checked against the code they run.

No Docker engine runs here, so these files must be right by construction: every command they
start names something that exists in this repository, every dependency waits on something that
can report it, and the example environment is one the settings accept.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import shlex
import subprocess
import sys
import tomllib
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from celery import Celery
from celery.app.control import Inspect
from celery.bin.celery import celery as celery_cli
from django.conf import settings
from django.core.management import get_commands
from django.urls import resolve

from tests.config.test_celery_worker import our_tasks

ROOT = Path(__file__).resolve().parents[2]
APP_SERVICES = {"migrate", "web", "worker", "beat"}
# What each long-running service's healthcheck must ask. migrate is one-shot; beat answers no
# remote control, so neither has one.
HEALTHCHECKS = {"postgres": "pg_isready", "redis": "redis-cli ping", "web": "/healthz", "worker": "inspect ping"}
WITHOUT_HEALTHCHECK = {"migrate", "beat"}


@cache
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def services() -> dict[str, dict]:
    return compose()["services"]


def argv(command: str | list[str]) -> list[str]:
    return shlex.split(command) if isinstance(command, str) else list(command)


def healthcheck_argv(service: dict) -> list[str]:
    test = service["healthcheck"]["test"]
    if isinstance(test, str):
        return shlex.split(test)
    kind, *rest = test
    return shlex.split(rest[0]) if kind == "CMD-SHELL" else rest


def option(args: list[str], *names: str, default: str | None = None) -> str | None:
    for index, arg in enumerate(args):
        if arg in names and index + 1 < len(args):
            return args[index + 1]
    return default


def env_file_values(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, separator, value = line.partition("=")
            assert separator, f"{path.name}: {line!r} is not NAME=value"
            values[name.strip()] = value.strip()
    return values


def interpolate(value: str, variables: dict[str, str]) -> str:
    """Compose's ${NAME} and ${NAME:-default} substitution."""
    return re.sub(r"\$\{(\w+)(?::-([^}]*))?\}", lambda match: variables.get(match[1]) or match[2] or "", str(value))


def dockerfile() -> list[tuple[str, str]]:
    """The Dockerfile's instructions as (KEYWORD, arguments), continuation lines joined."""
    instructions, pending = [], ""
    for raw in (ROOT / "Dockerfile").read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, arguments = (pending + line).partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
        pending = ""
    return instructions


def dockerfile_values(keyword: str) -> list[str]:
    return [arguments for found, arguments in dockerfile() if found == keyword]


def command_problems(args: list[str]) -> list[str]:
    """Why `args` would not start something this repository provides; empty when it would."""
    match args:
        case ["python", "manage.py", name, *_]:
            if not (ROOT / "manage.py").exists():
                return ["manage.py is missing"]
            if name not in get_commands():
                return [f"manage.py has no command {name!r}"]
            return []
        case ["python", "-c", code]:
            try:
                compile(code, "<healthcheck>", "exec")
            except SyntaxError as error:
                return [f"python -c does not compile: {error}"]
            return []
        case ["celery", "-A", app_name, subcommand, *rest]:
            problems = []
            if not (ROOT / Path(*app_name.split(".")) / "celery.py").exists():
                problems.append(f"{app_name}/celery.py is missing")
            elif not isinstance(getattr(importlib.import_module(f"{app_name}.celery"), "app", None), Celery):
                problems.append(f"{app_name}.celery has no Celery `app`")
            if subcommand not in celery_cli.commands:
                problems.append(f"celery has no command {subcommand!r}")
            elif subcommand == "inspect" and not (rest and hasattr(Inspect, rest[0])):
                problems.append(f"celery inspect has no command {rest[:1]}")
            return problems
        case ["gunicorn", target, *_]:
            module_name, _, attribute = target.partition(":")
            try:
                module = importlib.import_module(module_name)
            except ImportError as error:
                return [f"gunicorn target {target!r} does not import: {error}"]
            if not callable(getattr(module, attribute or "application", None)):
                return [f"{module_name} has no WSGI callable {attribute!r}"]
            return []
    return [f"not a command this repository provides: {args}"]


def repository_commands() -> list[tuple[str, list[str]]]:
    """Every command the image runs: app services' commands and healthchecks, the Dockerfile's CMD."""
    found = []
    for name, service in services().items():
        if name in APP_SERVICES:
            found.append((f"{name}.command", argv(service["command"])))
            if "healthcheck" in service:
                found.append((f"{name}.healthcheck", healthcheck_argv(service)))
    found.append(("Dockerfile CMD", json.loads(dockerfile_values("CMD")[-1])))
    return found


def test_it_defines_the_production_services():
    assert set(services()) == {"postgres", "redis"} | APP_SERVICES
    assert {name for name, service in services().items() if "build" in service} == APP_SERVICES


def test_it_pins_postgres_16_and_redis_7():
    assert services()["postgres"]["image"] == "postgres:16"
    assert services()["redis"]["image"] == "redis:7"


def test_it_health_checks_every_long_running_service_except_beat():
    for name, expected in HEALTHCHECKS.items():
        healthcheck = services()[name].get("healthcheck", {})
        assert not healthcheck.get("disable"), name
        assert expected in " ".join(healthcheck_argv(services()[name])), name
    for name in WITHOUT_HEALTHCHECK:
        assert "healthcheck" not in services()[name], name
    assert set(HEALTHCHECKS) | WITHOUT_HEALTHCHECK == set(services())


@pytest.mark.parametrize(("where", "args"), repository_commands(), ids=[where for where, _ in repository_commands()])
def test_it_runs_only_commands_that_exist_in_the_repository(where, args):
    assert command_problems(args) == []


@pytest.mark.parametrize(
    "command",
    [
        "python manage.py migrat --no-input",
        "celery -A confg worker -Q compute",
        "celery -A config wroker -l info",
        "celery -A config inspect pong",
        "gunicorn config.wsgi:app --bind 0.0.0.0:8000",
        "gunicorn config.wgsi:application",
        "python -c 'import urllib.request; urllib.request.urlopen('",
        "uwsgi --module config.wsgi",
    ],
)
def test_it_rejects_commands_that_do_not_exist(command):
    assert command_problems(shlex.split(command)) != []


def test_it_runs_migrate_once_before_the_services_that_need_the_schema():
    migrate = services()["migrate"]
    assert argv(migrate["command"])[:3] == ["python", "manage.py", "migrate"]
    assert migrate.get("restart", "no") == "no"
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in APP_SERVICES - {"migrate"}:
        assert services()[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully", name


def test_it_waits_only_on_conditions_the_dependency_can_report():
    for name, service in services().items():
        for dependency, spec in service.get("depends_on", {}).items():
            assert dependency in services(), f"{name} depends on unknown {dependency}"
            condition = spec["condition"]
            if condition == "service_healthy":
                assert "healthcheck" in services()[dependency], f"{name} waits for {dependency} to be healthy"
            elif condition == "service_completed_successfully":
                assert services()[dependency].get("restart", "no") == "no", f"{dependency} never completes"
            else:
                assert condition == "service_started", f"{name}: unknown condition {condition}"


def test_it_consumes_every_queue_tasks_are_routed_to():
    consumed = set()
    for service in services().values():
        args = argv(service.get("command", ""))
        if args[:1] == ["celery"] and "worker" in args:
            consumed |= set(option(args, "-Q", "--queues").split(","))
    assert consumed == set(settings.CELERY_TASK_QUEUES_NAMES)
    assert set(our_tasks().values()) | {settings.CELERY_TASK_DEFAULT_QUEUE} <= consumed


def test_it_pings_the_worker_by_its_own_node_name():
    worker = services()["worker"]
    node = option(argv(worker["command"]), "-n", "--hostname", default="celery@%h")
    # Compose turns $$ into $, and the shell expands $HOSTNAME to the container's host name: %h.
    assert option(healthcheck_argv(worker), "-d", "--destination") == node.replace("%h", "$$HOSTNAME")


def test_it_health_checks_web_at_healthz_on_the_port_gunicorn_binds():
    web = services()["web"]
    code = healthcheck_argv(web)[-1]
    url = urlsplit(re.search(r"https?://[^'\"]+", code)[0])
    assert resolve(url.path).url_name == "healthz"
    bind = option(argv(web["command"]), "--bind", "-b")
    assert url.port == int(bind.rpartition(":")[2])
    assert any(str(mapping).endswith(f":{url.port}") for mapping in web["ports"])
    assert url.hostname in env_file_values(ROOT / ".env.example")["ALLOWED_HOSTS"].split(",")


def test_it_builds_every_app_service_from_this_repository_with_an_example_env_file():
    assert (ROOT / "Dockerfile").exists()
    for name in APP_SERVICES:
        service = services()[name]
        assert service["build"] == ".", name
        env_files = service["env_file"] if isinstance(service["env_file"], list) else [service["env_file"]]
        for env_file in env_files:
            path = env_file["path"] if isinstance(env_file, dict) else env_file
            # The real .env holds secrets and stays out of git; what the repository ships is its example.
            assert (ROOT / f"{path}.example").exists(), f"{name}: {path} has no {path}.example"
            assert path in (ROOT / ".gitignore").read_text().split(), f"{path} is not ignored by git"


def test_it_ships_an_example_env_file_that_the_settings_accept():
    values = env_file_values(ROOT / ".env.example")
    code = "import config.settings as s; print(s.DEBUG, s.COSTPLANE_AWS, s.CELERY_BROKER_URL, sep='|')"
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={"PATH": os.environ["PATH"], **values},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False|sandbox|redis://redis:6379/0"


def test_it_points_the_example_env_file_at_the_compose_services():
    values = env_file_values(ROOT / ".env.example")
    database = urlsplit(values["DATABASE_URL"])
    postgres = {key: interpolate(value, values) for key, value in services()["postgres"]["environment"].items()}
    assert (database.hostname, database.port) == ("postgres", 5432)
    assert database.username == postgres["POSTGRES_USER"]
    assert database.password == postgres["POSTGRES_PASSWORD"]
    assert database.path.lstrip("/") == postgres["POSTGRES_DB"]
    broker = urlsplit(values["CELERY_BROKER_URL"])
    assert (broker.scheme, broker.hostname, broker.port or 6379) == ("redis", "redis", 6379)


def test_it_names_only_variables_the_code_reads_in_the_example_env_file():
    readers = [
        ROOT / "config" / "settings.py",
        ROOT / "finops" / "management" / "commands" / "costplane_bootstrap.py",
    ]
    quoted = "".join(path.read_text() for path in readers)
    compose_text = (ROOT / "docker-compose.yml").read_text()
    for name in env_file_values(ROOT / ".env.example"):
        assert f'"{name}"' in quoted or "${" + name in compose_text, f"nothing reads {name}"


def test_it_builds_the_image_from_python_311_slim_and_installs_the_project_without_dev_extras():
    assert dockerfile_values("FROM") == ["python:3.11-slim"]
    runs = " ".join(dockerfile_values("RUN"))
    assert re.search(r"pip install (\S+ )*\.(\s|$)", runs)
    assert "pip install -e" not in runs and "--editable" not in runs and "[dev]" not in runs


def test_it_copies_files_that_exist_and_everything_the_image_needs():
    copied = set()
    for arguments in dockerfile_values("COPY"):
        *sources, _destination = [part for part in arguments.split() if not part.startswith("--")]
        for source in sources:
            assert (ROOT / source).exists(), f"COPY {source}: not in the repository"
            copied.add(source.rstrip("/"))
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = {pattern.rstrip("*") for pattern in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]}
    assert packages | {"manage.py", "pyproject.toml", "templates", "static"} <= copied


def test_it_collects_static_files_at_build_time_with_a_throwaway_secret_key():
    collect = [run for run in dockerfile_values("RUN") if "collectstatic" in run]
    assert len(collect) == 1
    assert "manage.py collectstatic --no-input" in collect[0]
    assert re.search(r"\bSECRET_KEY=\S+", collect[0])


def test_it_serves_the_image_as_a_non_root_user_on_port_8000():
    assert dockerfile_values("USER")[-1] not in {"root", "0", "0:0"}
    assert dockerfile_values("EXPOSE") == ["8000"]
    cmd = json.loads(dockerfile_values("CMD")[-1])
    assert cmd[:2] == ["gunicorn", "config.wsgi:application"]
    assert option(cmd, "--bind", "-b") == "0.0.0.0:8000"
