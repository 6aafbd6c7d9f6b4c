"""Right-sizing actions (an approved recommendation): when one runs, and which driver resizes it.

Decisions:
- Window: the team's TeamSettings.maintenance_window (capacity/maintenance.py). Outside it a planned action becomes
  `announced` with `next_window_at` (the grace period before the change); an announced one only has
  `next_window_at` refreshed. A team without a window (or an action without a team) never executes: nothing changes
  outside a window someone chose.
- Only right-sizing of EC2 instances (resize_ec2.py) and SageMaker endpoints (resize_sagemaker.py) executes; any
  other kind or resource type, or an action without a target type, is skipped with the reason.
- The old and new types are Action.old_configuration and new_configuration. Skipped is final: a dry-run rehearsal
  is not re-executed when the account leaves dry run unless an approver re-plans it (capacity/services/approvals.py).
- The lock, the kill switch, the lease and the outcome are the shared state machine's (state.py).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from capacity.aws import ClientFactory
from capacity.maintenance import MaintenanceWindow
from capacity.models import Action, Recommendation, Resource, TeamSettings
from capacity.services.actions.names import resource_name
from capacity.services.actions.resize_ec2 import ec2_dry_run, ec2_resize
from capacity.services.actions.resize_sagemaker import sagemaker_dry_run, sagemaker_resize
from capacity.services.actions.state import (
    EXECUTABLE,
    Due,
    Outcome,
    Waits,
    action_begin,
    action_finish,
    action_progress,
    action_transition_record,
    leased_waits,
)
from capacity.services.inventory import clients_for
from finops.aws.clients import access_denied_text

logger = logging.getLogger(__name__)

SUPPORTED_RESOURCE_TYPES = (Resource.Kind.EC2_INSTANCE, Resource.Kind.SAGEMAKER_ENDPOINT)


def team_window(team_settings: TeamSettings) -> MaintenanceWindow | None:
    """The parsed window; one stored past validation that does not parse counts as none (and is logged)."""
    try:
        return team_settings.window
    except ValueError as error:
        logger.error("team %s has an unreadable maintenance window: %s", team_settings.team_id, error)
        return None


def action_window(action: Action) -> MaintenanceWindow | None:
    """The maintenance window of the action's team, or None (no team, no settings, blank window)."""
    if action.team_id is None:
        return None
    team_settings = TeamSettings.objects.filter(team_id=action.team_id).first()
    return team_window(team_settings) if team_settings is not None else None


def action_announce(*, action_id: int, now: datetime | None = None) -> Action:
    """Announce a planned action whose window is closed (next_window_at = the next start); calls no AWS."""
    now = now or timezone.now()
    with transaction.atomic():
        action = Action.objects.select_for_update().get(pk=action_id)
        window = action_window(action)
        if action.state != Action.State.PLANNED or window is None or window.contains(now):
            return action
        _announce(action, window, now)
        return action


def _announce(action: Action, window: MaintenanceWindow, now: datetime) -> None:
    action.next_window_at = window.next_start(now)
    if action.state == Action.State.PLANNED:
        action_transition_record(
            action=action,
            to_state=Action.State.ANNOUNCED,
            reason=f"Runs in the maintenance window {window}; next opens {action.next_window_at.isoformat()}",
            now=now,
        )
    else:
        action.save(update_fields=["next_window_at", "updated_at"])


def _due(action: Action, now: datetime) -> Due:
    """A right-sizing action is due while its team's window is open; closed, it is announced (or left as it is)."""
    if action.kind != Recommendation.Kind.RIGHTSIZE or action.resource_type not in SUPPORTED_RESOURCE_TYPES:
        return Due(
            False,
            skip=f"Not executable here: {action.kind} of {action.resource_type} (only right-sizing of "
            f"{' and '.join(SUPPORTED_RESOURCE_TYPES)}).",
        )
    if not action.parameters.get("target"):
        return Due(False, skip="No target instance type.")
    window = action_window(action)
    if window is None:
        return Due(False)  # no window chosen: stays as it is
    if not window.contains(now):
        _announce(action, window, now)
        return Due(False)
    return Due(True, running=f"Maintenance window {window} open")


def rightsize_action_execute(
    *,
    action_id: int,
    now: datetime | None = None,
    client_factory: ClientFactory | None = None,
    waits: Waits | None = None,
) -> Action:
    """Execute one planned or announced right-sizing action if its team's window is open; returns it as it ends."""
    started = now or timezone.now()
    action, execute = action_begin(action_id=action_id, now=started, due=_due)
    if not execute:
        return action
    waits = leased_waits(waits or Waits(), action.pk)

    def progress(**facts: Any) -> None:
        action_progress(action_id=action.pk, facts=facts)

    clients = clients_for(account=action.account, region=action.region, client_factory=client_factory)
    name = resource_name(action)
    target = action.parameters["target"]
    current = action.parameters.get("current", "")
    try:
        if action.resource_type == Resource.Kind.EC2_INSTANCE:
            ec2 = clients("ec2")
            if action.dry_run:
                outcome = ec2_dry_run(ec2, name, target)
            else:
                outcome = ec2_resize(ec2, name, target, waits, progress)
        else:
            sagemaker = clients("sagemaker")
            config_name_suffix = f"-costplane{action.pk}"
            if action.dry_run:
                outcome = sagemaker_dry_run(sagemaker, name, current, target, config_name_suffix)
            else:
                outcome = sagemaker_resize(sagemaker, name, current, target, config_name_suffix, waits, progress)
    except Exception as error:  # anything outside the steps' own handling: record it, never leave `running`
        logger.exception("action %s failed", action.pk)
        reason = access_denied_text(error) or f"{type(error).__name__}: {error}"  # a denial names its permission
        outcome = Outcome(Action.State.FAILED, f"Failed: {reason}", error=reason)
    return action_finish(action_id=action.pk, outcome=outcome, now=now or timezone.now())


def actions_due(*, now: datetime | None = None) -> list[int]:
    """Ids of the planned and announced right-sizing actions whose team's maintenance window is open now.

    Planned actions whose window is closed are announced here (with the next start), so a team sees the
    change coming before its window opens.
    """
    now = now or timezone.now()
    windows = {
        team_settings.team_id: window
        for team_settings in TeamSettings.objects.exclude(maintenance_window="")
        if (window := team_window(team_settings)) is not None
    }
    due: list[int] = []
    candidates = Action.objects.filter(
        state__in=EXECUTABLE,
        kind=Recommendation.Kind.RIGHTSIZE,
        resource_type__in=SUPPORTED_RESOURCE_TYPES,
        team_id__in=list(windows),
    ).values_list("pk", "team_id", "state")
    for action_id, team_id, state in candidates:
        window = windows[team_id]
        if window.contains(now):
            due.append(action_id)
        elif state == Action.State.PLANNED:
            action_announce(action_id=action_id, now=now)
    return due
