"""How an action names its resource: its type (Action.resource_type) and the name AWS's APIs take for it.

Action.resource_type holds Resource.Kind's values (`ec2_instance`, `sagemaker_endpoint`, ...) whoever made the
action, so that the drivers, the sweeper and API clients read one vocabulary. Recommendations keep Compute
Optimizer's names (`Ec2Instance`, `EbsVolume`, ...: it recommends for resources Costplane does not inventory), and
an approval translates with `action_resource_type`. A type without a Resource.Kind (EBS volumes, Lambda functions,
...) is spelt the same way, in snake case; no action can execute on one, so it is skipped with the reason.
"""

from __future__ import annotations

import re

from capacity.models import Action, Resource

# Compute Optimizer's resource types (Recommendation.resource_type) -> Action.resource_type. The rightsizing
# operations spell them one way (Ec2Instance), the Idle operation another (EC2Instance).
ACTION_RESOURCE_TYPES: dict[str, str] = {
    "Ec2Instance": Resource.Kind.EC2_INSTANCE,
    "EC2Instance": Resource.Kind.EC2_INSTANCE,
    "SageMakerEndpoint": Resource.Kind.SAGEMAKER_ENDPOINT,
    "AutoScalingGroup": Resource.Kind.AUTO_SCALING_GROUP,
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


def action_resource_type(recommendation_resource_type: str) -> str:
    """The Action.resource_type for a recommendation's resource type: Resource.Kind's value where there is one; a
    type Compute Optimizer adds later gets its name in snake case (a Resource.Kind value passes unchanged)."""
    if recommendation_resource_type in ACTION_RESOURCE_TYPES:
        return str(ACTION_RESOURCE_TYPES[recommendation_resource_type])
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", recommendation_resource_type).lower()


def resource_name(action: Action) -> str:
    """The name AWS's APIs take for the action's resource: an EC2 instance's id, else the stored resource's name
    (endpoint, notebook, group), else the last part of its id or of the action's ARN."""
    if action.resource is not None:
        if action.resource_type == Resource.Kind.EC2_INSTANCE:
            return action.resource.resource_id.rsplit("/", 1)[-1]
        return action.resource.name or action.resource.resource_id.rsplit("/", 1)[-1]
    return action.resource_arn.rsplit("/", 1)[-1]
