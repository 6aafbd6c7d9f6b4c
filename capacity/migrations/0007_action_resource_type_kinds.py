from __future__ import annotations

from django.db import migrations, models
from django.db.models import OuterRef, Subquery

# A frozen copy of capacity/services/actions/names.py ACTION_RESOURCE_TYPES as of this migration: Compute
# Optimizer's resource types -> Resource.Kind's values (or the same spelling for types without a kind).
ACTION_RESOURCE_TYPES = {
    "Ec2Instance": "ec2_instance",
    "EC2Instance": "ec2_instance",
    "SageMakerEndpoint": "sagemaker_endpoint",
    "AutoScalingGroup": "auto_scaling_group",
    "EbsVolume": "ebs_volume",
    "EBSVolume": "ebs_volume",
    "LambdaFunction": "lambda_function",
    "EcsService": "ecs_service",
    "ECSService": "ecs_service",
    "RdsDBInstance": "rds_db_instance",
    "RDSDBInstance": "rds_db_instance",
    "NatGateway": "nat_gateway",
    "DynamoDBTable": "dynamodb_table",
    "ElastiCacheCluster": "elasticache_cluster",
    "MemoryDBCluster": "memorydb_cluster",
    "DocumentDBCluster": "documentdb_cluster",
    "WorkSpaces": "workspaces",
}
# Back, for an action without a recommendation to copy from: the rightsizing operations' spelling.
COMPUTE_OPTIMIZER_TYPES = {
    "ec2_instance": "Ec2Instance",
    "sagemaker_endpoint": "SageMakerEndpoint",
    "auto_scaling_group": "AutoScalingGroup",
    "ebs_volume": "EbsVolume",
    "lambda_function": "LambdaFunction",
    "ecs_service": "EcsService",
    "rds_db_instance": "RdsDBInstance",
    "nat_gateway": "NatGateway",
    "dynamodb_table": "DynamoDBTable",
    "elasticache_cluster": "ElastiCacheCluster",
    "memorydb_cluster": "MemoryDBCluster",
    "documentdb_cluster": "DocumentDBCluster",
    "workspaces": "WorkSpaces",
}


def action_resource_types_to_kinds(apps, schema_editor):
    """Approved recommendations' actions stored Compute Optimizer's names (Ec2Instance); policy actions already hold
    Resource.Kind's values (ec2_instance). Only the former change."""
    Action = apps.get_model("capacity", "Action")
    for old, new in ACTION_RESOURCE_TYPES.items():
        Action.objects.filter(policy__isnull=True, resource_type=old).update(resource_type=new)


def action_resource_types_to_compute_optimizer(apps, schema_editor):
    """Back to the names the actions had: an approval copied its recommendation's, which is still stored."""
    Action = apps.get_model("capacity", "Action")
    Recommendation = apps.get_model("capacity", "Recommendation")
    Action.objects.filter(recommendation__isnull=False).update(
        resource_type=Subquery(Recommendation.objects.filter(pk=OuterRef("recommendation_id")).values("resource_type"))
    )
    unlinked = Action.objects.filter(recommendation__isnull=True, policy__isnull=True)
    for new, old in COMPUTE_OPTIMIZER_TYPES.items():
        unlinked.filter(resource_type=new).update(resource_type=old)


class Migration(migrations.Migration):
    dependencies = [
        ("capacity", "0006_team_channels_to_finops"),
    ]

    operations = [
        migrations.AlterField(
            model_name="action",
            name="resource_type",
            field=models.CharField(
                help_text="Resource.Kind's value: ec2_instance, sagemaker_endpoint… (not Compute Optimizer's).",
                max_length=64,
            ),
        ),
        migrations.RunPython(action_resource_types_to_kinds, action_resource_types_to_compute_optimizer),
    ]
