"""Capacity reads: the GPU fleet, a resource's hourly utilisation, prices and quotas, for pages and the API."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import pandas as pd
from django.db.models import Case, Count, DecimalField, F, Q, QuerySet, Sum, Value, When
from django.db.models.functions import Coalesce

from capacity.models import (
    Action,
    ActionTransition,
    CollectionRun,
    Policy,
    Price,
    Resource,
    ServiceQuota,
    UtilisationHour,
)

FLEET_KINDS = (Resource.Kind.EC2_INSTANCE, Resource.Kind.SAGEMAKER_ENDPOINT, Resource.Kind.SAGEMAKER_NOTEBOOK)
RUNNING_STATES = ("pending", "running", "InService", "Updating")


def resources_live() -> QuerySet[Resource]:
    return Resource.objects.filter(gone_at__isnull=True).select_related("account", "team", "type_info")


def gpu_fleet_summary() -> list[dict]:
    """Live accelerated machines by team, accelerator model and kind: resources, instances, GPUs, running GPUs.

    Training jobs (history) and groups (their instances are counted as instances) are left out.
    """
    groups: dict[tuple[str, str, str, str], dict[str, int]] = defaultdict(
        lambda: {"resources": 0, "instances": 0, "gpus": 0, "running_gpus": 0}
    )
    live = resources_live().filter(type_info__gpu_count__gt=0, kind__in=FLEET_KINDS)
    for resource in live:
        info = resource.type_info
        group = groups[
            (resource.team.name if resource.team else "", info.gpu_model, info.accelerator_kind, resource.kind)
        ]
        gpus = resource.instance_count * info.gpu_count
        group["resources"] += 1
        group["instances"] += resource.instance_count
        group["gpus"] += gpus
        group["running_gpus"] += gpus if resource.state in RUNNING_STATES else 0
    return [
        {"team": team, "gpu_model": model, "accelerator": accelerator, "kind": kind, **counts}
        for (team, model, accelerator, kind), counts in sorted(groups.items())
    ]


def resource_utilisation_frame(*, resource: Resource, metric: str, start: datetime, end: datetime) -> pd.DataFrame:
    """Hourly rows of one metric in [start, end): hour, variant, average, maximum, total (Decimal or None).

    Missing hours are present with None values, so a chart shows gaps, not zeros.
    """
    rows = UtilisationHour.objects.filter(resource=resource, metric=metric, hour__gte=start, hour__lt=end).values(
        "hour", "variant", "average", "maximum", "total", "sample_count"
    )
    frame = pd.DataFrame.from_records(
        list(rows), columns=["hour", "variant", "average", "maximum", "total", "sample_count"]
    )
    return frame.sort_values(["variant", "hour"], ignore_index=True)


def utilisation_averages(*, start: datetime, end: datetime, metric: str) -> dict[int, Decimal | None]:
    """{resource id: mean of the hours that have data in [start, end)} (None when no hour has data)."""
    rows = (
        UtilisationHour.objects.filter(metric=metric, hour__gte=start, hour__lt=end)
        .values("resource_id")
        .annotate(known=Count("average"), total=Sum("average"))
    )
    return {row["resource_id"]: (row["total"] / row["known"] if row["known"] else None) for row in rows}


def inventoried_types() -> tuple[list[str], list[str]]:
    """(regions, instance types) of live inventory, for the price refresh."""
    live = resources_live().exclude(instance_type="")
    regions = sorted(set(live.values_list("region", flat=True)))
    types = set(live.values_list("instance_type", flat=True))
    for details in live.exclude(details__instance_types=None).values_list("details__instance_types", flat=True):
        types.update(details or [])
    return regions, sorted(types)


def price_for(*, region: str, instance_type: str, component: str = "") -> Price | None:
    """The stored on-demand price (EC2 Linux shared, or the SageMaker component); None if never fetched."""
    prices = Price.objects.filter(region=region, instance_type=instance_type)
    if instance_type.startswith("ml."):
        return prices.filter(service=Price.Service.SAGEMAKER, component=component or "Hosting").first()
    return prices.filter(service=Price.Service.EC2, operating_system="Linux", tenancy="Shared").first()


def quotas_near_limit(*, share: Decimal = Decimal("0.8")) -> QuerySet[ServiceQuota]:
    """Quotas whose counted usage is at least `share` of their value (quotas with value 0 and usage above it too)."""
    quotas = ServiceQuota.objects.filter(usage__isnull=False).select_related("account")
    return quotas.filter(Q(value=0, usage__gt=0) | Q(value__gt=0, usage__gte=share * F("value")))


# The Capacity page's reads.

PRICE_COMPONENTS = {
    Resource.Kind.SAGEMAKER_ENDPOINT: "Hosting",
    Resource.Kind.SAGEMAKER_NOTEBOOK: "Notebook",
    Resource.Kind.SAGEMAKER_TRAINING_JOB: "Training",
}


def resources_listed() -> QuerySet[Resource]:
    """Every resource, gone ones too, annotated with `gpus`: instances x accelerators per instance (0 without)."""
    return Resource.objects.select_related("account", "team", "type_info").annotate(
        gpus=F("instance_count") * Coalesce(F("type_info__gpu_count"), 0)
    )


def resource_prices(*, resources: Iterable[Resource]) -> dict[int, Price | None]:
    """{resource id: its stored on-demand price per instance-hour, None if never fetched}, in one query.

    The same price price_for finds: EC2 Linux shared tenancy, or the SageMaker component of the resource's kind.
    """
    resources = [resource for resource in resources if resource.instance_type]
    found: dict[tuple[str, str, str, str], Price] = {}
    if resources:
        prices = Price.objects.filter(
            region__in={resource.region for resource in resources},
            instance_type__in={resource.instance_type for resource in resources},
        ).filter(Q(service=Price.Service.SAGEMAKER) | Q(operating_system="Linux", tenancy="Shared"))
        found = {(price.service, price.region, price.instance_type, price.component): price for price in prices}
    answer: dict[int, Price | None] = {}
    for resource in resources:
        if resource.instance_type.startswith("ml."):
            key = (Price.Service.SAGEMAKER, resource.region, resource.instance_type,
                   PRICE_COMPONENTS.get(resource.kind, "Hosting"))  # fmt: skip
        else:
            key = (Price.Service.EC2, resource.region, resource.instance_type, "")
        answer[resource.pk] = found.get(key)
    return answer


@dataclass(frozen=True)
class FleetUtilisation:
    """The GPU-weighted mean of the live GPU fleet's per-resource averages, over the resources with data."""

    average: Decimal | None
    measured_gpus: int
    gpus: int


def fleet_gpu_utilisation(*, start: datetime, end: datetime) -> FleetUtilisation:
    """Average GPU utilisation of the live fleet (gpu_fleet_summary's machines) in [start, end), weighted by GPUs.

    Machines without GPU data in the window (Neuron devices, notebooks, hosts without the CloudWatch agent) are
    left out of the mean and counted in `gpus` only: unknown is never taken as idle.
    """
    averages = utilisation_averages(start=start, end=end, metric=UtilisationHour.Metric.GPU)
    live = resources_live().filter(type_info__gpu_count__gt=0, kind__in=FLEET_KINDS)
    weighted, measured, gpus = Decimal(0), 0, 0
    for resource in live:
        count = resource.instance_count * resource.type_info.gpu_count
        gpus += count
        average = averages.get(resource.pk)
        if average is not None:
            weighted += average * count
            measured += count
    return FleetUtilisation(average=weighted / measured if measured else None, measured_gpus=measured, gpus=gpus)


def quotas_by_use() -> QuerySet[ServiceQuota]:
    """Quotas, the largest share of their value in use first; those whose usage is not counted last."""
    share = Case(
        When(usage__isnull=True, then=Value(None)),
        When(value=0, usage__gt=0, then=Value(Decimal("1e9"))),
        When(value=0, then=Value(Decimal(0))),
        default=F("usage") / F("value"),
        output_field=DecimalField(max_digits=40, decimal_places=12),
    )
    return (
        ServiceQuota.objects.select_related("account")
        .annotate(share=share)
        .order_by(F("share").desc(nulls_last=True), "account__account_id", "region", "service_code", "name")
    )


def collection_runs_latest() -> list[CollectionRun]:
    """The latest collection run of each kind per account and region, each with `last_success` (a run or None)."""
    order = ("kind", "account_id", "region", "-started_at", "-id")
    distinct = ("kind", "account_id", "region")
    runs = list(CollectionRun.objects.select_related("account").order_by(*order).distinct(*distinct))
    succeeded = CollectionRun.objects.filter(status=CollectionRun.Status.SUCCEEDED).order_by(*order).distinct(*distinct)
    successes = {(run.kind, run.account_id, run.region): run for run in succeeded}
    for run in runs:
        run.last_success = successes.get((run.kind, run.account_id, run.region))
    kinds = list(CollectionRun.Kind.values)
    return sorted(
        runs, key=lambda run: (run.account.account_id if run.account else "", run.region, kinds.index(run.kind))
    )


def resource_utilisation_hours(*, resource: Resource, start: datetime, end: datetime) -> pd.DataFrame:
    """Every metric's hourly rows of one resource in [start, end): metric, variant, hour, average, maximum, total.

    As resource_utilisation_frame, for all metrics at once: hours without data hold None, never 0.
    """
    columns = ["metric", "variant", "hour", "average", "maximum", "total"]
    rows = UtilisationHour.objects.filter(resource=resource, hour__gte=start, hour__lt=end).values(*columns)
    frame = pd.DataFrame.from_records(list(rows), columns=columns)
    return frame.sort_values(["metric", "variant", "hour"], ignore_index=True)


def resource_teams() -> list[tuple[str, str]]:
    """(slug, name) of the teams owning at least one resource, by name: the page's team filter choices."""
    teams = Resource.objects.filter(team__isnull=False).values_list("team__slug", "team__name").distinct()
    return sorted(teams, key=lambda team: team[1].lower())


# --- Policies: upcoming actions, history, savings (for the policies pages) ----------------------------------


def policy_actions_upcoming(*, policy: Policy | None = None) -> QuerySet[Action]:
    """Policy actions still to run (announced with their grace period, or planned), soonest first: the timeline.

    Each row has `run_after` (when it may run), `transition_at` (its schedule boundary or idle decision), `kind`,
    `reason`, `hourly_saving`, `dry_run`, `resource`, `team`, `policy`.
    """
    actions = Action.objects.filter(
        policy__isnull=False, state__in=(Action.State.ANNOUNCED, Action.State.PLANNED)
    ).select_related("policy", "resource", "team", "account")
    if policy is not None:
        actions = actions.filter(policy=policy)
    return actions.order_by(F("run_after").asc(nulls_last=True), "id")


def policy_history(*, policy: Policy | None = None) -> QuerySet[ActionTransition]:
    """Every state change of policy actions, newest first (who or what, when, from, to, why), with the action,
    its resource and policy loaded."""
    transitions = ActionTransition.objects.filter(action__policy__isnull=False).select_related(
        "action", "action__resource", "action__policy", "user"
    )
    if policy is not None:
        transitions = transitions.filter(action__policy=policy)
    return transitions.order_by("-at", "-id")


@dataclass(frozen=True)
class PolicySavings:
    """Savings to date of a policy.

    `estimated`: for each off action that turned something off (done, changed, not a dry run), its estimated
    hourly saving times the hours until its on action finished (or `now` while it is still off); actions without
    a price count in `unpriced_actions`, not in the sum. `measured_monthly`: the sum of the realised monthly savings
    measured from billing (capacity.services.actions.action_realised_savings) of the policy's idle actions, the
    ones a before/after comparison applies to (a daily off-hours cycle has no clean before and after); None until
    one is measured.
    """

    estimated: Decimal
    hours_off: Decimal
    actions: int
    unpriced_actions: int
    measured_monthly: Decimal | None
    currency: str = "USD"


def policy_savings(*, policy: Policy, now: datetime | None = None) -> PolicySavings:
    from django.utils import timezone

    now = now or timezone.now()
    off_kinds = ("stop", "delete", "scale_to_zero")
    offs = list(
        Action.objects.filter(policy=policy, kind__in=off_kinds, state=Action.State.DONE, dry_run=False).order_by(
            "executed_at", "id"
        )
    )
    ends = {
        action.parameters.get("restores"): action.executed_at
        for action in Action.objects.filter(policy=policy, state=Action.State.DONE).exclude(kind__in=off_kinds)
    }
    estimated = hours_off = Decimal(0)
    unpriced = counted = 0
    for action in offs:
        if not action.result.get("changed") or action.executed_at is None:
            continue
        counted += 1
        end = ends.get(action.pk) or now
        hours = Decimal(max(0, int((end - action.executed_at).total_seconds()))) / 3600
        hours_off += hours
        if action.hourly_saving is None:
            unpriced += 1
        else:
            estimated += action.hourly_saving * hours
    measured = [
        action.realised_monthly_savings
        for action in offs
        if policy.trigger == Policy.Trigger.IDLE and action.realised_monthly_savings is not None
    ]
    return PolicySavings(
        estimated=estimated.quantize(Decimal("0.01")),
        hours_off=hours_off.quantize(Decimal("0.01")),
        actions=counted,
        unpriced_actions=unpriced,
        measured_monthly=sum(measured, Decimal(0)) if measured else None,
    )
