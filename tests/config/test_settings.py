from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.settings import env_bool, env_choice, env_int, env_list

ROOT = Path(__file__).resolve().parents[2]


def settings_in_subprocess(**env: str) -> subprocess.CompletedProcess:
    """Import config.settings fresh with exactly these variables (plus PATH and the database URL)."""
    base = {"PATH": os.environ["PATH"], "DATABASE_URL": os.environ.get("DATABASE_URL", "postgres://x@127.0.0.1/x")}
    code = (
        "import config.settings as s; "
        "print(s.COSTPLANE_AWS, s.COSTPLANE_ACTIONS_ENABLED, s.DEBUG, s.CELERY_BROKER_URL, sep='|')"
    )
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env={**base, **env}, capture_output=True, text=True, timeout=60
    )


def test_it_reads_booleans_and_rejects_anything_else(monkeypatch):
    monkeypatch.setenv("X_FLAG", "Yes")
    assert env_bool("X_FLAG", False) is True
    monkeypatch.setenv("X_FLAG", "off")
    assert env_bool("X_FLAG", True) is False
    monkeypatch.setenv("X_FLAG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="X_FLAG='maybe' is not a boolean"):
        env_bool("X_FLAG", False)


def test_it_rejects_integers_that_are_not_or_are_too_small(monkeypatch):
    monkeypatch.setenv("X_NUMBER", "ten")
    with pytest.raises(ImproperlyConfigured, match="not an integer"):
        env_int("X_NUMBER", 1)
    monkeypatch.setenv("X_NUMBER", "0")
    with pytest.raises(ImproperlyConfigured, match="at least 1"):
        env_int("X_NUMBER", 1, minimum=1)


def test_it_splits_lists_and_checks_choices(monkeypatch):
    monkeypatch.setenv("X_LIST", " a, b ,,c")
    assert env_list("X_LIST", []) == ["a", "b", "c"]
    monkeypatch.setenv("X_CHOICE", "cloud")
    with pytest.raises(ImproperlyConfigured, match="must be one of: sandbox, aws"):
        env_choice("X_CHOICE", "sandbox", ("sandbox", "aws"))


def test_it_requires_a_secret_key_unless_debug():
    result = settings_in_subprocess(DEBUG="false")
    assert result.returncode != 0
    assert "Set the SECRET_KEY environment variable" in result.stderr
    assert settings_in_subprocess(DEBUG="false", SECRET_KEY="s3cret").returncode == 0
    assert settings_in_subprocess(DEBUG="true").returncode == 0


def test_it_uses_the_sandbox_even_when_aws_credentials_are_present():
    result = settings_in_subprocess(
        DEBUG="true", AWS_ACCESS_KEY_ID="AKIAEXAMPLE", AWS_SECRET_ACCESS_KEY="secret", AWS_PROFILE="prod"
    )
    assert result.returncode == 0, result.stderr
    aws, actions, _, broker = result.stdout.strip().split("|")
    assert (aws, actions, broker) == ("sandbox", "False", "filesystem://")


def test_it_fails_loudly_on_a_bad_aws_mode_or_database_url():
    bad_mode = settings_in_subprocess(DEBUG="true", COSTPLANE_AWS="production")
    assert "COSTPLANE_AWS='production' must be one of" in bad_mode.stderr
    bad_db = settings_in_subprocess(DEBUG="true", DATABASE_URL="mysql://root@127.0.0.1/x")
    assert "DATABASE_URL must name a PostgreSQL database" in bad_db.stderr
