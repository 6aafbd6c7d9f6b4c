"""The one entry point that executes an action, whatever made it: policy actions go to policy.py, right-sizing
(an approved recommendation) to resize.py. Both run through the shared state machine (state.py), so calling it
twice, or for an action that is not due, changes nothing."""

from __future__ import annotations

from datetime import datetime

from capacity.aws import ClientFactory
from capacity.models import Action
from capacity.services.actions.policy import POLICY_KINDS, policy_action_execute
from capacity.services.actions.resize import rightsize_action_execute
from capacity.services.actions.state import Waits


def action_execute(
    *,
    action_id: int,
    now: datetime | None = None,
    client_factory: ClientFactory | None = None,
    waits: Waits | None = None,
) -> Action:
    """Execute one planned or announced action if it is due (right-sizing: its team's window is open; policy
    actions: their grace period is over); returns the action as it ends."""
    if Action.objects.filter(pk=action_id, kind__in=POLICY_KINDS).exists():
        return policy_action_execute(action_id=action_id, now=now, client_factory=client_factory, waits=waits)
    return rightsize_action_execute(action_id=action_id, now=now, client_factory=client_factory, waits=waits)
