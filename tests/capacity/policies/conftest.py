"""The sandbox fleet inventoried in moto with its accounts out of dry run, and an operator."""

from __future__ import annotations

import pytest

from capacity.services.inventory import inventory_collect
from tests.capacity.conftest import NOW, REGION, client_factory
from tests.factories import UserFactory


@pytest.fixture
def inventoried(fleet, accounts, teams, settings):
    settings.COSTPLANE_AWS = "sandbox"
    settings.COSTPLANE_SANDBOX_ENDPOINT = ""
    for name in ("ml-research", "ml-prod", "platform", "data"):
        account = accounts[name]
        account.dry_run = False
        account.save()
        inventory_collect(account=account, region=REGION, client_factory=client_factory(account.account_id), now=NOW)
    return accounts


@pytest.fixture
def operator_user(db):
    return UserFactory(username="olga", roles=["operator"])
