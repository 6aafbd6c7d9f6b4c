"""Storing recommendations from any source, expiring the ones that stop appearing, announcing big ones.

Decisions:
- A source's pass over one scope (account, region, and the resource types it asked about) is complete:
  an open or snoozed recommendation of that scope it did not return has expired. Approved and rejected
  ones are kept as decided (the decision is the record); expired ones are never revived, a recommendation
  that comes back is a new row.
- A refreshed open or snoozed recommendation takes the new finding, options and savings; a decided one
  only gets `last_seen`.
- The owning team comes from the inventoried resource when there is one, else from the resource's tags.
- Announcements go through finops notifications (event "recommendation.new"): once per recommendation, channel
  and medium, to the team's enabled channels (and global ones listing the event) whose `min_amount` the
  monthly savings reach; a failed send is recorded and retried.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from capacity.models import Recommendation, RecommendationTransition, Resource
from capacity.services.approvals import recommendation_transition_record
from capacity.services.inventory import team_resolver
from finops.models import CloudAccount, Notification
from finops.services.notifications import Message, notify

logger = logging.getLogger(__name__)
LIVE = (Recommendation.State.OPEN, Recommendation.State.SNOOZED)
REFRESHED_FIELDS = (
    "finding", "reason_codes", "current_configuration", "recommended_configuration", "performance_risk", "options",
    "monthly_savings", "currency", "evidence",
)  # fmt: skip
ANNOUNCEMENT_EVENT = "recommendation.new"


@dataclass
class Proposal:
    """One recommendation as a source states it, before it is stored."""

    kind: str
    resource_type: str
    resource_arn: str
    finding: str = ""
    reason_codes: list[str] = field(default_factory=list)
    current_configuration: str = ""
    recommended_configuration: str = ""
    performance_risk: Decimal | None = None
    options: list[dict[str, Any]] = field(default_factory=list)
    monthly_savings: Decimal | None = None
    currency: str = "USD"
    evidence: dict[str, Any] = field(default_factory=dict)
    resource_ids: tuple[str, ...] = ()  # ids inventory may know the resource by (instance id, ARN, name)
    tags: dict[str, str] = field(default_factory=dict)


def _resources_by_id(*, account: CloudAccount, region: str) -> dict[str, Resource]:
    found: dict[str, Resource] = {}
    for resource in Resource.objects.filter(account=account, region=region).order_by("gone_at", "-last_seen"):
        for key in (resource.resource_id, resource.name):
            if key:
                found.setdefault(key, resource)
    return found


@transaction.atomic
def recommendations_store(
    *,
    source: str,
    account: CloudAccount,
    region: str,
    resource_types: Iterable[str],
    proposals: list[Proposal],
    kinds: Iterable[str] | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Make the live recommendations of (source, account, region, resource types[, kinds]) match `proposals`.

    Returns counts and the ids of recommendations created (for announcing).
    """
    now = now or timezone.now()
    resource_types = set(resource_types) | {proposal.resource_type for proposal in proposals}
    scope = Recommendation.objects.select_for_update().filter(
        source=source, account=account, region=region, resource_type__in=resource_types
    )
    if kinds is not None:
        scope = scope.filter(kind__in=set(kinds) | {proposal.kind for proposal in proposals})
    stored = {(row.resource_arn, row.kind): row for row in scope.exclude(state=Recommendation.State.EXPIRED)}
    resources = _resources_by_id(account=account, region=region)
    team_of = team_resolver()
    counts: dict[str, Any] = {"seen": len(proposals), "created": 0, "updated": 0, "expired": 0, "created_ids": []}
    seen: set[tuple[str, str]] = set()
    for proposal in proposals:
        key = (proposal.resource_arn, proposal.kind)
        if key in seen:
            continue
        seen.add(key)
        values = {name: getattr(proposal, name) for name in REFRESHED_FIELDS}
        row = stored.get(key)
        if row is None:
            resource = next(
                (resources[name] for name in (*proposal.resource_ids, proposal.resource_arn) if name in resources), None
            )
            team = resource.team if resource is not None else team_of(proposal.tags)
            row = Recommendation.objects.create(
                source=source, kind=proposal.kind, account=account, region=region,
                resource_type=proposal.resource_type, resource_arn=proposal.resource_arn, resource=resource,
                team=team, first_seen=now, last_seen=now, **values,
            )  # fmt: skip
            RecommendationTransition.objects.create(
                recommendation=row, from_state="", to_state=Recommendation.State.OPEN, actor=f"{source} ingestion",
                reason=proposal.finding, at=now,
            )  # fmt: skip
            counts["created"] += 1
            counts["created_ids"].append(row.pk)
            continue
        row.last_seen = now
        if row.state in LIVE:
            if any(getattr(row, name) != value for name, value in values.items()):
                counts["updated"] += 1
            for name, value in values.items():
                setattr(row, name, value)
        row.save()
    for key, row in stored.items():
        if key not in seen and row.state in LIVE:
            row.expired_at = now
            row.snoozed_until = None
            recommendation_transition_record(
                recommendation=row, to_state=Recommendation.State.EXPIRED, actor=f"{source} ingestion",
                reason="No longer recommended by the source.", now=now,
            )  # fmt: skip
            counts["expired"] += 1
    return counts


def _money(value: Decimal | None) -> str:
    return "unknown" if value is None else f"${value.quantize(Decimal('0.01')):,}"


def announcement_message(recommendation: Recommendation) -> Message:
    """What a team hears about one new recommendation (a Slack-compatible webhook body or an email)."""
    target = recommendation.resource.name if recommendation.resource else recommendation.resource_arn
    change = (
        f"{recommendation.current_configuration} → {recommendation.recommended_configuration}"
        if recommendation.recommended_configuration
        else recommendation.get_kind_display()
    )
    text = (
        f"New recommendation for {recommendation.team or 'no team'}: {change} on {target} "
        f"saves {_money(recommendation.monthly_savings)}/month ({recommendation.get_source_display()})."
    )
    url = ""
    if settings.COSTPLANE_BASE_URL:
        url = f"{settings.COSTPLANE_BASE_URL}/recommendations/?recommendation={recommendation.pk}#recommendation-detail"
    return Message(
        title=f"Recommendation #{recommendation.pk}: approve, reject or snooze it",
        text=text,
        fields={
            "Finding": recommendation.finding or "-",
            "Account": f"{recommendation.account.account_id} {recommendation.region}",
            "Resource": recommendation.resource_arn,
        },
        url=url,
    )


def recommendations_announce(*, recommendation_ids: Iterable[int] | None = None, now: datetime | None = None) -> int:
    """Tell the owning teams' channels (webhook, email) about open recommendations, once per channel and medium;
    returns how many messages went out. A channel hears those whose monthly savings reach its `min_amount`."""
    now = now or timezone.now()
    recommendations = Recommendation.objects.filter(
        state=Recommendation.State.OPEN, team__isnull=False, monthly_savings__isnull=False
    ).select_related("team", "resource", "account")
    if recommendation_ids is not None:
        recommendations = recommendations.filter(pk__in=list(recommendation_ids))
    sent = 0
    for recommendation in recommendations:
        notifications = notify(
            event=ANNOUNCEMENT_EVENT,
            subject=f"recommendation:{recommendation.pk}",
            message=announcement_message(recommendation),
            team=recommendation.team,
            amount=recommendation.monthly_savings,
            now=now,
        )
        sent += sum(notification.status == Notification.Status.SENT for notification in notifications)
    return sent
