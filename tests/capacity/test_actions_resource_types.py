"""Action.resource_type holds Resource.Kind's values whoever made the action: an approval translates Compute
Optimizer's names (the recommendation keeps them), /api/v1/actions shows them, and migration 0007 converts the
actions stored before it (and back)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from capacity.services.actions.names import action_resource_type
from capacity.services.approvals import recommendation_approve
from tests.dashboards.test_recommendations_page import recommendations_seed
from tests.factories import TeamMembershipFactory, UserFactory

BEFORE = [("capacity", "0006_team_channels_to_finops")]
AFTER = [("capacity", "0007_action_resource_type_kinds")]


def test_compute_optimizer_names_become_resource_kinds():
    assert [action_resource_type(name) for name in ("Ec2Instance", "EC2Instance", "SageMakerEndpoint")] == [
        "ec2_instance", "ec2_instance", "sagemaker_endpoint",
    ]  # fmt: skip
    assert [action_resource_type(name) for name in ("AutoScalingGroup", "EBSVolume", "RdsDBInstance")] == [
        "auto_scaling_group", "ebs_volume", "rds_db_instance",
    ]  # fmt: skip
    assert action_resource_type("SomeNewType") == "some_new_type"
    assert action_resource_type("ec2_instance") == "ec2_instance"


@pytest.mark.django_db
def test_an_approval_plans_an_action_named_by_resource_kind_and_the_api_shows_it(api_client, viewer):
    seeded = recommendations_seed()
    for recommendation in seeded.values():
        approver = TeamMembershipFactory(team=recommendation.team, user=UserFactory()).user
        recommendation_approve(recommendation_id=recommendation.pk, user=approver)

    api_client.force_authenticate(viewer)
    actions = api_client.get("/api/v1/actions/").json()["results"]
    assert sorted((item["recommendation"], item["resource_type"]) for item in actions) == sorted(
        [(seeded["trainer"].pk, "ec2_instance"), (seeded["endpoint"].pk, "sagemaker_endpoint")]
    )
    recommendation = api_client.get(f"/api/v1/recommendations/{seeded['trainer'].pk}/").json()
    assert recommendation["resource_type"] == "Ec2Instance"  # Compute Optimizer's name, as it said it


@pytest.fixture
def latest_migrations_after(transactional_db):
    """Whatever the test leaves behind, the database goes back to the latest migrations for the next tests."""
    yield
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


def migrated(targets):
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def test_migration_0007_names_stored_actions_by_resource_kind_and_back(latest_migrations_after):
    old = migrated(BEFORE)
    team = old.get_model("finops", "Team").objects.create(name="Vision", slug="vision", tag_values=["vision"])
    account = old.get_model("finops", "CloudAccount").objects.create(account_id="481516234202", name="ml-prod")
    at = datetime(2025, 6, 16, 10, tzinfo=UTC)
    Recommendation = old.get_model("capacity", "Recommendation")
    Action = old.get_model("capacity", "Action")
    stored = {}
    for kind, resource_type in (("rightsize", "Ec2Instance"), ("idle", "EC2Instance"), ("rightsize", "EbsVolume"),
                                ("rightsize", "SageMakerEndpoint")):  # fmt: skip
        arn = f"arn:aws:{resource_type}:{kind}"
        recommendation = Recommendation.objects.create(
            source="compute_optimizer", kind=kind, account=account, region="us-east-1", resource_type=resource_type,
            resource_arn=arn, team=team, first_seen=at, last_seen=at,
        )  # fmt: skip
        stored[(kind, resource_type)] = Action.objects.create(
            recommendation=recommendation, kind=kind, account=account, region="us-east-1",
            resource_type=resource_type, resource_arn=arn, team=team, created_at=at,
        ).pk  # fmt: skip
    policy = old.get_model("capacity", "Policy").objects.create(name="dev off-hours", action="stop_start")
    stop = Action.objects.create(
        policy=policy, kind="stop", account=account, region="us-east-1", resource_type="ec2_instance",
        resource_arn="i-0aaa", team=team, transition_at=at, created_at=at,
    ).pk  # fmt: skip

    new = migrated(AFTER)
    types = dict(new.get_model("capacity", "Action").objects.values_list("pk", "resource_type"))
    assert [types[pk] for pk in stored.values()] == ["ec2_instance", "ec2_instance", "ebs_volume", "sagemaker_endpoint"]
    assert types[stop] == "ec2_instance"
    assert sorted(new.get_model("capacity", "Recommendation").objects.values_list("resource_type", flat=True)) == [
        "EC2Instance", "EbsVolume", "Ec2Instance", "SageMakerEndpoint",
    ]  # fmt: skip

    back = migrated(BEFORE)
    types = dict(back.get_model("capacity", "Action").objects.values_list("pk", "resource_type"))
    assert {key: types[pk] for key, pk in stored.items()} == {key: key[1] for key in stored}
    assert types[stop] == "ec2_instance"
