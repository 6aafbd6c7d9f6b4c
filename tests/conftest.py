from __future__ import annotations

import os

import pytest
from hypothesis import settings
from rest_framework.test import APIClient

import tests.e2e.conftest as e2e_settings
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


# One Chromium per test process, shared by the browser tests wherever they live (tests/e2e, tests/config): a second
# sync_playwright() in a process whose session browser is running fails ("Sync API inside the asyncio loop").
@pytest.fixture(scope="session")
def browser(tmp_path_factory):
    if not e2e_settings.CHROMIUM.exists():
        reason = f"Chromium is not installed at {e2e_settings.CHROMIUM} (apt-get install chromium)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason + "; browser tests may not skip under CI")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            user_data_dir=str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=str(e2e_settings.CHROMIUM),
            headless=True,
            args=e2e_settings.CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 900},
        )
        yield context
        context.close()
