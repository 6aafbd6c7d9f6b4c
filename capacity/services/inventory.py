"""Inventory: what runs in one account and region, stored as Resource rows, with GPU facts and owning team.

Decisions:
- Everything is read first, then written in one transaction: an AWS error leaves what was stored as it was.
  Except access denied: each AWS API read is a part (INVENTORY_PARTS), and a part AWS refuses fails alone (the
  run ends failed naming the permission, its resources stay as stored) while the other parts are stored.
- Incremental: finished training jobs (Completed, Failed, Stopped) never change, so a job already stored
  as finished is only listed again, not described; everything else is described on every pass.
- Idempotent: a second pass over the same AWS state changes nothing but `last_seen`.
- A resource AWS no longer lists, or lists as terminated, gets `gone_at` (the first pass that saw it so);
  rows are never deleted. One that comes back is live again.
- Instance type facts come from DescribeInstanceTypes for the types not cached yet or cached more than
  INSTANCE_TYPE_MAX_AGE ago; SageMaker's ml.* types use the EC2 type behind them.
- The team is the one whose `tag_values` hold the resource's team tag (settings.COSTPLANE_TEAM_TAG_KEY).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from capacity.aws import ClientFactory, RequestCount
from capacity.aws import autoscaling as autoscaling_api
from capacity.aws import ec2 as ec2_api
from capacity.aws import eks as eks_api
from capacity.aws import sagemaker as sagemaker_api
from capacity.models import CollectionRun, InstanceTypeInfo, Resource
from capacity.services import observed as observe
from capacity.services.observed import FINISHED_TRAINING_STATES, Observed
from capacity.services.runs import collection_run, part_failed
from finops.aws.clients import access_denied_text, aws_client
from finops.models import CloudAccount, Team

logger = logging.getLogger(__name__)

INSTANCE_TYPE_MAX_AGE = timedelta(days=30)
STORED_FIELDS = (
    "name", "instance_type", "instance_count", "type_info", "state", "tags", "team", "launched_at",
    "billable_seconds", "details",
)  # fmt: skip


def clients_for(*, account: CloudAccount, region: str, client_factory: ClientFactory | None = None) -> ClientFactory:
    """A service -> client function for the account and region; clients are made once and reused."""
    made: dict[str, Any] = {}

    def client(service: str) -> Any:
        if service not in made:
            made[service] = (client_factory or (lambda name: aws_client(name, account=account, region=region)))(service)
        return made[service]

    return client


@dataclass(frozen=True)
class InventoryPart:
    """One AWS API the inventory reads, on its own: AWS refusing it fails this part, not the others."""

    name: str
    service: str
    kinds: tuple[str, ...]
    observe: Callable[..., list[Observed]]  # (client, *, finished_training_jobs, count) -> observed


def _ec2_instances(client: Any, *, finished_training_jobs: set[str], count: RequestCount) -> list[Observed]:
    return [observe.ec2_instance(item) for item in ec2_api.instances(client, count=count)]


def _auto_scaling_groups(client: Any, *, finished_training_jobs: set[str], count: RequestCount) -> list[Observed]:
    return [observe.auto_scaling_group(item) for item in autoscaling_api.auto_scaling_groups(client, count=count)]


def _eks_node_groups(client: Any, *, finished_training_jobs: set[str], count: RequestCount) -> list[Observed]:
    return [observe.eks_node_group(item) for item in eks_api.node_groups(client, count=count)]


def _sagemaker_endpoints(client: Any, *, finished_training_jobs: set[str], count: RequestCount) -> list[Observed]:
    return [observe.sagemaker_endpoint(item) for item in sagemaker_api.endpoints(client, count=count)]


def _sagemaker_notebooks(client: Any, *, finished_training_jobs: set[str], count: RequestCount) -> list[Observed]:
    return [observe.sagemaker_notebook(item) for item in sagemaker_api.notebook_instances(client, count=count)]


def _sagemaker_training_jobs(client: Any, *, finished_training_jobs: set[str], count: RequestCount) -> list[Observed]:
    found: list[Observed] = []
    for summary in sagemaker_api.training_job_summaries(client, count=count):
        if summary["TrainingJobArn"] in finished_training_jobs:
            found.append(Observed(Resource.Kind.SAGEMAKER_TRAINING_JOB, summary["TrainingJobArn"], refresh=False))
        else:
            job = sagemaker_api.training_job(client, summary["TrainingJobName"], count=count)
            found.append(observe.sagemaker_training_job(job))
    return found


INVENTORY_PARTS = (
    InventoryPart("ec2_instances", "ec2", (Resource.Kind.EC2_INSTANCE,), _ec2_instances),
    InventoryPart("auto_scaling_groups", "autoscaling", (Resource.Kind.AUTO_SCALING_GROUP,), _auto_scaling_groups),
    InventoryPart("eks_node_groups", "eks", (Resource.Kind.EKS_NODE_GROUP,), _eks_node_groups),
    InventoryPart("sagemaker_endpoints", "sagemaker", (Resource.Kind.SAGEMAKER_ENDPOINT,), _sagemaker_endpoints),
    InventoryPart("sagemaker_notebooks", "sagemaker", (Resource.Kind.SAGEMAKER_NOTEBOOK,), _sagemaker_notebooks),
    InventoryPart(
        "sagemaker_training_jobs", "sagemaker", (Resource.Kind.SAGEMAKER_TRAINING_JOB,), _sagemaker_training_jobs
    ),
)


def inventory_observe(
    *, clients: ClientFactory, finished_training_jobs: set[str], count: RequestCount
) -> tuple[list[Observed], dict[str, str]]:
    """Everything capacity inventories in one account and region, as AWS describes it now, and {part: why it
    failed} for the parts AWS refused (access denied; any other error rises)."""
    found: list[Observed] = []
    denied: dict[str, str] = {}
    for part in INVENTORY_PARTS:
        try:
            found += part.observe(clients(part.service), finished_training_jobs=finished_training_jobs, count=count)
        except ClientError as error:
            message = access_denied_text(error, service=part.service)
            if message is None:
                raise
            logger.warning("inventory part %s failed: %s", part.name, message)
            denied[part.name] = message
    return found, denied


def instance_types_refresh(
    *, names: Iterable[str], client: Any, count: RequestCount | None = None, now: datetime | None = None
) -> dict[str, InstanceTypeInfo]:
    """{EC2 type: facts} for `names` (EC2 or ml.* types), fetching only what the cache lacks or holds too long."""
    now = now or timezone.now()
    wanted = {observe.ec2_type_of(name) for name in names if name}
    cached = {info.instance_type: info for info in InstanceTypeInfo.objects.filter(instance_type__in=wanted)}
    stale = [name for name in wanted if name not in cached or cached[name].fetched_at < now - INSTANCE_TYPE_MAX_AGE]
    if stale:
        entries, _unknown = ec2_api.instance_types(client, stale, count=count)
        for entry in entries:
            InstanceTypeInfo.objects.update_or_create(
                instance_type=entry["InstanceType"],
                defaults=observe.instance_type_facts(entry) | {"fetched_at": now},
            )
    return {info.instance_type: info for info in InstanceTypeInfo.objects.filter(instance_type__in=wanted)}


def team_resolver() -> Callable[[dict[str, str]], Team | None]:
    """tags -> the team owning them: the team whose tag values hold the team tag's value."""
    key = settings.COSTPLANE_TEAM_TAG_KEY
    owners: dict[str, Team] = {}
    for team in Team.objects.order_by("name"):
        for value in team.tag_values:
            owners.setdefault(value, team)
    return lambda tags: owners.get(tags.get(key, ""))


@transaction.atomic
def inventory_store(
    *,
    account: CloudAccount,
    region: str,
    found: list[Observed],
    types: dict[str, InstanceTypeInfo],
    now: datetime,
    unread_kinds: Iterable[str] = (),
) -> dict[str, int]:
    """Make the stored inventory of (account, region) match `found`; returns what changed.

    Resources of `unread_kinds` (a part AWS refused) are left as stored: not seen is not gone."""
    unread = set(unread_kinds)
    # Serialise writers per account: two overlapping passes would otherwise race on the unique rows.
    list(CloudAccount.objects.select_for_update().filter(pk=account.pk).values_list("pk"))
    stored = {(row.kind, row.resource_id): row for row in Resource.objects.filter(account=account, region=region)}
    team_of = team_resolver()
    counts = {"seen": len(found), "created": 0, "updated": 0, "gone": 0, "returned": 0}
    new: list[Resource] = []
    touched: list[Resource] = []
    seen: set[tuple[str, str]] = set()
    for item in found:
        key = (item.kind, item.resource_id)
        seen.add(key)
        resource = stored.get(key)
        if not item.refresh:
            if resource is not None:
                resource.last_seen = now
                touched.append(resource)
            continue
        values = {
            "name": item.name,
            "instance_type": item.instance_type,
            "instance_count": item.instance_count,
            "type_info": types.get(observe.ec2_type_of(item.instance_type)) if item.instance_type else None,
            "state": item.state,
            "tags": item.tags,
            "team": team_of(item.tags),
            "launched_at": item.launched_at,
            "billable_seconds": item.billable_seconds,
            "details": item.details,
        }
        if resource is None:
            gone_at = now if item.gone else None
            new.append(Resource(account=account, region=region, kind=item.kind, resource_id=item.resource_id,
                                first_seen=now, last_seen=now, gone_at=gone_at, **values))  # fmt: skip
            counts["created"] += 1
            continue
        if any(getattr(resource, name) != value for name, value in values.items()):
            counts["updated"] += 1
        for name, value in values.items():
            setattr(resource, name, value)
        if item.gone and resource.gone_at is None:
            resource.gone_at = now
            counts["gone"] += 1
        elif not item.gone and resource.gone_at is not None:
            resource.gone_at = None
            counts["returned"] += 1
        resource.last_seen = now
        touched.append(resource)
    for key, resource in stored.items():
        if key not in seen and resource.gone_at is None and key[0] not in unread:
            resource.gone_at = now
            counts["gone"] += 1
            touched.append(resource)
    Resource.objects.bulk_create(new, batch_size=1000)
    Resource.objects.bulk_update(touched, [*STORED_FIELDS, "last_seen", "gone_at"], batch_size=1000)
    return counts


def inventory_collect(
    *, account: CloudAccount, region: str, client_factory: ClientFactory | None = None, now: datetime | None = None
) -> CollectionRun:
    """Read the account's machines in `region` and store them; returns the run (failed runs re-raise, except that
    a part AWS refuses fails alone: the others are stored and the run ends failed naming the missing permission)."""
    now = now or timezone.now()
    with collection_run(kind=CollectionRun.Kind.INVENTORY, account=account, region=region) as (run, count):
        clients = clients_for(account=account, region=region, client_factory=client_factory)
        finished = set(
            Resource.objects.filter(
                account=account, region=region, kind=Resource.Kind.SAGEMAKER_TRAINING_JOB,
                state__in=FINISHED_TRAINING_STATES, gone_at__isnull=True,
            ).values_list("resource_id", flat=True)
        )  # fmt: skip
        found, denied = inventory_observe(clients=clients, finished_training_jobs=finished, count=count)
        names = {item.instance_type for item in found if item.refresh}
        names |= {name for item in found for name in item.details.get("instance_types", [])}
        try:
            types = instance_types_refresh(names=names, client=clients("ec2"), count=count, now=now)
        except ClientError as error:
            if (message := access_denied_text(error, service="ec2")) is None:
                raise
            denied["instance_types"] = message  # the cached facts serve until EC2 answers again
            wanted = {observe.ec2_type_of(name) for name in names if name}
            types = {info.instance_type: info for info in InstanceTypeInfo.objects.filter(instance_type__in=wanted)}
        unread = [kind for part in INVENTORY_PARTS if part.name in denied for kind in part.kinds]
        run.counts = inventory_store(
            account=account, region=region, found=found, types=types, now=now, unread_kinds=unread
        )
        run.counts["instance_types"] = len(types)
        for part, message in denied.items():
            part_failed(run, part=part, message=message)
    return run
