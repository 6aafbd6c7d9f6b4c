"""SageMaker endpoint resizes (capacity/services/actions/resize_sagemaker.py) in moto: new EndpointConfig,
UpdateEndpoint, InService; rollback to the old config; dry run.

moto 5.2 has no UpdateEndpoint: `update_endpoint` below adds it for these tests (the endpoint takes the new
config's variants and stays InService), the way sandbox/moto_extensions.py extends moto for the sandbox.
"""

from __future__ import annotations

import pytest

from capacity.models import Action, TeamSettings
from capacity.services.actions.execute import action_execute
from sandbox.moto_extensions import moto_extend
from tests.capacity.conftest import ML_PROD, client_factory
from tests.capacity.test_actions import (
    BERLIN_SUNDAY,
    ENDPOINT,
    ENDPOINT_ARN,
    IN_WINDOW,
    NO_WAIT,
    moves,
    planned,
    wrapping,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def update_endpoint():
    """UpdateEndpoint, which moto lacks, as the sandbox adds it (sandbox/moto_extensions.py)."""
    moto_extend()


@pytest.fixture
def recsys(teams):
    TeamSettings.objects.create(team=teams["recsys"], maintenance_window=BERLIN_SUNDAY)
    return teams["recsys"]


def live_prod(accounts):
    account = accounts["ml-prod"]
    account.dry_run = False
    account.save()
    return account


def endpoint_action(account, team) -> Action:
    return planned(
        account,
        team,
        resource_type="SageMakerEndpoint",
        arn=ENDPOINT_ARN,
        current="ml.g5.12xlarge",
        target="ml.g5.2xlarge",
    )


def described():
    sagemaker = client_factory(ML_PROD)("sagemaker")
    endpoint = sagemaker.describe_endpoint(EndpointName=ENDPOINT)
    config = sagemaker.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    return endpoint, [variant["InstanceType"] for variant in config["ProductionVariants"]]


def test_it_resizes_an_endpoint_through_a_new_config(fleet, update_endpoint, accounts, recsys):
    action = endpoint_action(live_prod(accounts), recsys)

    action = action_execute(action_id=action.pk, now=IN_WINDOW, client_factory=client_factory(ML_PROD), waits=NO_WAIT)

    endpoint, types = described()
    assert action.state == Action.State.DONE, action.error
    assert endpoint["EndpointConfigName"] == f"two-tower-staging-costplane{action.pk}"
    assert endpoint["EndpointStatus"] == "InService" and types == ["ml.g5.2xlarge"]
    assert (action.old_configuration, action.new_configuration) == ("ml.g5.12xlarge", "ml.g5.2xlarge")
    assert action.result["old_endpoint_config"] == "two-tower-staging"
    assert moves(action)[1:] == [("planned", "running", "system"), ("running", "done", "system")]
    sagemaker = client_factory(ML_PROD)("sagemaker")
    assert sagemaker.describe_endpoint_config(EndpointConfigName="two-tower-staging")  # kept: the rollback target


def test_a_failed_update_goes_back_to_the_old_config(fleet, update_endpoint, accounts, recsys):
    action = endpoint_action(live_prod(accounts), recsys)

    def describe_endpoint(client, **params):
        answer = client.describe_endpoint(**params)
        if "costplane" in answer["EndpointConfigName"]:
            answer |= {"EndpointStatus": "Failed", "FailureReason": "Insufficient capacity for ml.g5.2xlarge"}
        return answer

    action = action_execute(
        action_id=action.pk,
        now=IN_WINDOW,
        client_factory=wrapping(ML_PROD, "sagemaker", describe_endpoint=describe_endpoint),
        waits=NO_WAIT,
    )

    endpoint, types = described()
    assert action.state == Action.State.ROLLED_BACK
    assert endpoint["EndpointConfigName"] == "two-tower-staging" and types == ["ml.g5.12xlarge"]
    assert "Failed" in action.error
    assert action.result["failure_reason"] == "Insufficient capacity for ml.g5.2xlarge"
    assert "update endpoint back to two-tower-staging" in action.result["steps"]
    assert moves(action)[-1] == ("running", "rolled_back", "system")


def test_an_endpoint_dry_run_only_reads(fleet, accounts, recsys):
    action = endpoint_action(accounts["ml-prod"], recsys)  # dry run; no UpdateEndpoint needed
    sagemaker = client_factory(ML_PROD)("sagemaker")
    configs = len(sagemaker.list_endpoint_configs()["EndpointConfigs"])

    action = action_execute(action_id=action.pk, now=IN_WINDOW, client_factory=client_factory(ML_PROD))

    assert action.state == Action.State.SKIPPED and action.dry_run
    assert action.result["would_succeed"] is True
    assert action.result["would_create_endpoint_config"] == f"two-tower-staging-costplane{action.pk}"
    assert action.result["variants"] == [{"VariantName": "AllTraffic", "InstanceType": "ml.g5.2xlarge"}]
    assert len(sagemaker.list_endpoint_configs()["EndpointConfigs"]) == configs
    assert described()[1] == ["ml.g5.12xlarge"]
