"""A seeded policy and fleet, and clients signed in as an operator and as a viewer."""

from __future__ import annotations

import pytest

from tests.dashboards.policies.support import policies_seed


@pytest.fixture
def seeded(db):
    return policies_seed()


@pytest.fixture
def operator_client(client, operator):
    client.force_login(operator)
    return client


@pytest.fixture
def viewer_client(client, viewer):
    client.force_login(viewer)
    return client
