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


@pytest.fixture
def billed_and_collected(fleet, accounts, teams, settings):
    """The small sandbox with its FOCUS billing imported and every account's fleet and metrics collected."""
    import boto3

    from capacity.services.inventory import inventory_collect
    from capacity.services.utilisation import utilisation_collect
    from finops.services.billing_import import billing_export_import
    from sandbox.server import seed_exports

    settings.COSTPLANE_AWS = "sandbox"
    settings.COSTPLANE_SANDBOX_ENDPOINT = ""
    s3 = boto3.client("s3", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    seed_exports(s3, size="small", today=TODAY)
    billing_export_import(location="s3://costplane-sandbox-exports/exports/costplane-focus/")
    for account in accounts.values():
        factory = client_factory(account.account_id)
        inventory_collect(account=account, region=REGION, client_factory=factory, now=NOW)
        utilisation_collect(account=account, region=REGION, until=NOW, client_factory=factory)
    return accounts
