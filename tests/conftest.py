from __future__ import annotations

import pytest
from hypothesis import settings
from rest_framework.test import APIClient

from tests.factories import UserFactory

# The pinnable test clock (COSTPLANE_TEST_CLOCK, @pytest.mark.clock) and per-xdist-worker brokers.
pytest_plugins = ["tests.clock", "tests.parallel"]

# Property tests check outcomes, never speed: a busy machine (three xdist workers on two cores) must not fail
# them on hypothesis's 200 ms per-example deadline.
settings.register_profile("costplane", deadline=None)
settings.load_profile("costplane")

PASSWORD = "correct horse battery staple"


@pytest.fixture
def viewer(db):
    return UserFactory(username="vera", roles=["viewer"])


@pytest.fixture
def operator(db):
    return UserFactory(username="otto", roles=["operator"])


@pytest.fixture
def admin_user(db):
    return UserFactory(username="ada", roles=["admin"])


@pytest.fixture
def nobody(db):
    """Signed in, but holding no role."""
    return UserFactory(username="nemo")


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def viewer_api(api_client, viewer) -> APIClient:
    api_client.force_authenticate(viewer)
    return api_client
