from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from moto import mock_aws

from sandbox.aws import sandbox_client
from sandbox.catalogue import ACCOUNT_IDS, ACCOUNTS
from sandbox.dataset import sandbox_dataset
from sandbox.server import seed_machines
from tests.factories import CloudAccountFactory, TeamFactory

TODAY = date(2025, 6, 16)  # a Monday: the weekend before it is inside the 14 days of metrics
NOW = datetime(2025, 6, 16, 10, tzinfo=UTC)  # weekday-schedule machines run from 07:00 to 19:00
ML_PROD = ACCOUNT_IDS["ml-prod"]
ML_RESEARCH = ACCOUNT_IDS["ml-research"]
REGION = "us-east-1"


def client_factory(account_id: str, region: str = REGION):
    """What the client factory gives in sandbox mode for an account: moto, in that account, plus the handlers."""
    return lambda service: sandbox_client(service, account_id=account_id, region=region)


@pytest.fixture
def catalogue():
    return sandbox_dataset(7, "small", TODAY).catalogue


@pytest.fixture
def fleet():
    """The small sandbox fleet in moto (in-process), seeded the way `python -m sandbox serve` seeds it."""
    with mock_aws():
        yield seed_machines(None, "small", TODAY, now=NOW)


@pytest.fixture
def accounts(db):
    return {account.name: CloudAccountFactory(account_id=account.id, name=account.name) for account in ACCOUNTS}


@pytest.fixture
def teams(db):
    return {
        name: TeamFactory(name=name.title(), slug=name, tag_values=[name])
        for name in ("vision", "speech", "recsys", "platform")
    }
