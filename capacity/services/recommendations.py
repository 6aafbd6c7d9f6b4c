"""Storing recommendations from any source, expiring the ones that stop appearing, announcing big ones.

Decisions:
- A source's pass over one scope (account, region, and the resource types it asked about) is complete:
  an open or snoozed recommendation of that scope it did not return has expired. Approved and rejected
  ones are kept as decided (the decision is the record); expired ones are never revived, a recommendation
  that comes back is a new row.
- A refreshed open or snoozed recommendation takes the new finding, options and savings; a decided one
  only gets `last_seen`.
- The owning team comes from the inventoried resource when there is one, else from the resource's tags.
- Announcements go once per recommendation and channel (a sent Notification row), to the team's enabled
  channels whose `min_savings` the monthly savings reach; a failed post is recorded and retried next time.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from capacity.models import Notification, Recommendation, RecommendationTransition, Resource, TeamChannel
from capacity.services.approvals import recommendation_transition_record
from capacity.services.inventory import team_resolver
from finops.models import CloudAccount

logger = logging.getLogger(__name__)
LIVE = (Recommendation.State.OPEN, Recommendation.State.SNOOZED)
REFRESHED_FIELDS = (
    "finding", "reason_codes", "current_configuration", "recommended_configuration", "performance_risk", "options",
    "monthly_savings", "currency", "evidence",
)  # fmt: skip
WEBHOOK_TIMEOUT_SECONDS = 10


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


def announcement_message(recommendation: Recommendation) -> dict[str, Any]:
    """A Slack-compatible message ({"text", "blocks"}) about one recommendation."""
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
    return {
        "text": text,
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": text}},
            {
                "type": "context",
                "elements": [
                    {"type": "mrkdwn", "text": f"Finding: {recommendation.finding or '-'}"},
                    {"type": "mrkdwn", "text": f"Recommendation #{recommendation.pk}: approve, reject or snooze it."},
                ],
            },
        ],
    }


def _post(url: str, body: dict[str, Any]) -> int:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT_SECONDS) as response:  # noqa: S310 (operator-set URL)
        return response.status


def recommendations_announce(*, recommendation_ids: Iterable[int] | None = None, now: datetime | None = None) -> int:
    """Post open recommendations to their team's webhooks once each; returns how many posts succeeded."""
    now = now or timezone.now()
    recommendations = Recommendation.objects.filter(
        state=Recommendation.State.OPEN, team__isnull=False, monthly_savings__isnull=False
    ).select_related("team", "resource")
    if recommendation_ids is not None:
        recommendations = recommendations.filter(pk__in=list(recommendation_ids))
    sent = 0
    for recommendation in recommendations:
        channels = TeamChannel.objects.filter(
            team=recommendation.team, enabled=True, min_savings__lte=recommendation.monthly_savings
        ).exclude(webhook_url="")
        for channel in channels.exclude(
            notifications__recommendation=recommendation, notifications__status=Notification.Status.SENT
        ):
            status, error = None, ""
            try:
                status = _post(channel.webhook_url, announcement_message(recommendation))
            except urllib.error.HTTPError as failure:
                status, error = failure.code, str(failure)
            except (urllib.error.URLError, OSError) as failure:
                error = str(failure)
            ok = status is not None and 200 <= status < 300
            if not ok:
                logger.warning("Announcing recommendation %s to %s failed: %s", recommendation.pk, channel, error)
            Notification.objects.create(
                recommendation=recommendation,
                channel=channel,
                status=Notification.Status.SENT if ok else Notification.Status.FAILED,
                response_status=status,
                error=error,
                sent_at=now,
            )
            sent += ok
    return sent
