"""A Cost Explorer client whose every request and response botocore checks against the model (Stubber)."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber


@pytest.fixture
def ce_client():
    client = boto3.client("ce", region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test")
    with Stubber(client) as stubber:
        client.stubber = stubber
        yield client
        stubber.assert_no_pending_responses()


@pytest.fixture(autouse=True)
def team_tag_only(settings):
    settings.COSTPLANE_ALLOCATION_TAG_KEYS = ["team"]
    settings.COSTPLANE_BACKFILL_MONTHS = 13
    settings.COSTPLANE_REVISION_DAYS = 3
