"""What a policy applies to: the live resources it selects, and the off-hours schedule that holds for each (the
policy's own, else the resource's schedule tag). Deciding, the guards and snoozing all read these (reads only)."""

from __future__ import annotations

from capacity.models import Policy, Resource
from capacity.schedules import Schedule, ScheduleError, parse_schedule
from capacity.services.policies.editing import KINDS_FOR_ACTION


def policy_schedule_for(*, policy: Policy, resource: Resource) -> tuple[Schedule | None, str]:
    """(the schedule that applies to `resource`, "") or (None, why not: no tag, or the tag's error)."""
    if policy.schedule:
        try:
            return parse_schedule(policy.schedule), ""
        except ScheduleError as error:
            return None, f"Policy schedule: {error}"
    text = (resource.tags or {}).get(policy.schedule_tag_key, "")
    if not text:
        return None, f"No schedule: the resource has no tag {policy.schedule_tag_key}."
    try:
        return parse_schedule(text), ""
    except ScheduleError as error:
        label = resource.name or resource.resource_id
        return None, f"Resource {label}: tag {policy.schedule_tag_key}: {error}"


def policy_resources(*, policy: Policy) -> list[Resource]:
    """The live resources the policy selects (kinds, accounts, regions, tag filters), in a stable order."""
    kinds = policy.resource_kinds or list(KINDS_FOR_ACTION[policy.action])
    resources = Resource.objects.filter(kind__in=kinds, gone_at__isnull=True).select_related(
        "account", "team", "type_info"
    )
    account_ids = list(policy.accounts.values_list("pk", flat=True))
    if account_ids:
        resources = resources.filter(account_id__in=account_ids)
    if policy.regions:
        resources = resources.filter(region__in=policy.regions)
    return [
        resource
        for resource in resources.order_by("account__account_id", "region", "kind", "resource_id")
        if all((resource.tags or {}).get(key) in values for key, values in policy.tag_filters.items())
    ]
