from __future__ import annotations

from datetime import date

import boto3
import pytest

from sandbox.aws import install_handlers
from sandbox.catalogue import DEFAULT_SEED
from sandbox.dataset import Dataset, sandbox_dataset
from sandbox.focus import focus_frame

TODAY = date(2025, 6, 15)


@pytest.fixture(scope="session")
def small() -> Dataset:
    return sandbox_dataset(DEFAULT_SEED, "small", TODAY)


@pytest.fixture(scope="session")
def full() -> Dataset:
    return sandbox_dataset(DEFAULT_SEED, "full", TODAY)


@pytest.fixture(scope="session")
def small_focus(small):
    return focus_frame(small.lines, small.catalogue)


@pytest.fixture
def sandbox_env(monkeypatch):
    monkeypatch.setenv("COSTPLANE_SANDBOX_SIZE", "small")
    monkeypatch.setenv("COSTPLANE_SANDBOX_TODAY", TODAY.isoformat())
    monkeypatch.delenv("COSTPLANE_SANDBOX_SEED", raising=False)


def sandbox_client(service: str, **config):
    client = boto3.client(
        service,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
        config=boto3.session.Config(**config) if config else None,
    )
    install_handlers(client)
    return client


@pytest.fixture
def ce(sandbox_env):
    return sandbox_client("ce")
