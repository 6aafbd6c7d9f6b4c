"""Approving, rejecting and snoozing recommendations; an approval plans an Action.

Decisions:
- Only an approver of the resource's team, or an admin, decides (finops.roles.user_can_approve_for_team);
  an operator alone may not.
- Each command locks the recommendation row (select_for_update) and re-reads its state inside the lock, so
  two approvals racing for one recommendation give one approval and one RecommendationStateError.
- open and snoozed recommendations can be decided; approved, rejected and expired ones cannot.
- A resource's open recommendations are alternatives (Compute Optimizer's and Costplane's right-size, an idle
  delete beside a right-size): approving one rejects the others as superseded (audited, actor "costplane"), so
  at most one change is ever planned for a resource from its open recommendations.
- Every change is a transition row: who (a user) or what (a process name), when, from, to, why.
- An approval creates the Action in state `planned` (dry run) and nothing more: executing it is the
  action engine's job, which picks up planned actions. The action names its resource type as Resource.Kind does
  (`ec2_instance`), not as Compute Optimizer does (`Ec2Instance`): capacity/services/actions/names.py.
- An approved action that ended `skipped` because its account was in dry run can be re-planned, by the same
  people, once the account has left dry run: the approval named the change, the dry run only rehearsed it, and
  it never touched the resource, so running it for real is still "at most once". Nothing re-plans by itself.
- A team's maintenance window (when its approved actions may run) is the team's choice: its approvers and
  admins set it.
"""

from __future__ import annotations

from datetime import date, datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from capacity.maintenance import parse_window
from capacity.models import Action, ActionTransition, Recommendation, RecommendationTransition, TeamSettings
from capacity.services.actions.names import action_resource_type
from finops.models import Team
from finops.roles import user_can_approve_for_team

DECIDABLE = (Recommendation.State.OPEN, Recommendation.State.SNOOZED)


class RecommendationForbidden(Exception):
    """The user may not decide this team's recommendations."""


class RecommendationInputError(ValueError):
    """A command's input is wrong (a snooze that ends today or earlier); `field` names the input."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(message)


class RecommendationStateError(Exception):
    """The recommendation's state does not allow the command (already decided, expired)."""

    def __init__(self, recommendation: Recommendation, command: str) -> None:
        self.state = recommendation.state
        super().__init__(f"Recommendation {recommendation.pk} is {recommendation.state}; it cannot be {command}.")


def recommendation_transition_record(
    *,
    recommendation: Recommendation,
    to_state: str,
    user: AbstractBaseUser | None = None,
    actor: str = "",
    reason: str = "",
    now: datetime | None = None,
) -> RecommendationTransition:
    """Move `recommendation` to `to_state` (saving it) and write the audit row; the caller holds the row lock."""
    now = now or timezone.now()
    from_state = recommendation.state
    recommendation.state = to_state
    recommendation.save()
    return RecommendationTransition.objects.create(
        recommendation=recommendation,
        from_state=from_state,
        to_state=to_state,
        user=user,
        actor=actor or (user.get_username() if user is not None else "costplane"),
        reason=reason,
        at=now,
    )


def _locked_for_decision(*, recommendation_id: int, user: AbstractBaseUser, command: str) -> Recommendation:
    recommendation = Recommendation.objects.select_for_update().get(pk=recommendation_id)
    if not user_can_approve_for_team(user, recommendation.team_id):
        raise RecommendationForbidden("Only an approver of the resource's team, or an admin, may decide this.")
    if recommendation.state not in DECIDABLE:
        raise RecommendationStateError(recommendation, command)
    return recommendation


@transaction.atomic
def recommendation_approve(
    *, recommendation_id: int, user: AbstractBaseUser, reason: str = "", now: datetime | None = None
) -> Action:
    """Approve an open or snoozed recommendation and plan its action; returns the planned Action."""
    now = now or timezone.now()
    recommendation = _locked_for_decision(recommendation_id=recommendation_id, user=user, command="approved")
    recommendation.snoozed_until = None
    recommendation_transition_record(
        recommendation=recommendation, to_state=Recommendation.State.APPROVED, user=user, reason=reason, now=now
    )
    parameters: dict = {"finding": recommendation.finding}
    if recommendation.recommended_configuration:
        parameters["target"] = recommendation.recommended_configuration
        parameters["current"] = recommendation.current_configuration
    action = Action.objects.create(
        recommendation=recommendation,
        kind=recommendation.kind,
        account=recommendation.account,
        region=recommendation.region,
        resource_type=action_resource_type(recommendation.resource_type),
        resource_arn=recommendation.resource_arn,
        resource=recommendation.resource,
        team=recommendation.team,
        parameters=parameters,
        monthly_savings=recommendation.monthly_savings,
        created_at=now,
    )
    ActionTransition.objects.create(
        action=action,
        from_state="",
        to_state=Action.State.PLANNED,
        user=user,
        actor=user.get_username(),
        reason=f"Recommendation {recommendation.pk} approved" + (f": {reason}" if reason else ""),
        at=now,
    )
    _alternatives_close(recommendation=recommendation, now=now)
    return action


def _alternatives_close(*, recommendation: Recommendation, now: datetime) -> None:
    """The resource's other open or snoozed recommendations are alternatives to the approved one (only one change
    can be carried out): each is rejected by Costplane, audited, so that no second action is ever planned for it."""
    alternatives = (
        Recommendation.objects.select_for_update()
        .filter(state__in=DECIDABLE, account=recommendation.account, region=recommendation.region,
                resource_arn=recommendation.resource_arn)
        .exclude(pk=recommendation.pk)
        .order_by("pk")
    )  # fmt: skip
    for alternative in alternatives:
        alternative.snoozed_until = None
        recommendation_transition_record(
            recommendation=alternative,
            to_state=Recommendation.State.REJECTED,
            actor="costplane",
            reason=f"Superseded: recommendation {recommendation.pk} for the same resource was approved.",
            now=now,
        )


@transaction.atomic
def recommendation_reject(
    *, recommendation_id: int, user: AbstractBaseUser, reason: str = "", now: datetime | None = None
) -> Recommendation:
    recommendation = _locked_for_decision(recommendation_id=recommendation_id, user=user, command="rejected")
    if not reason.strip():
        # The team's "no" is only useful with its why: the next recommendation for this resource is read against it.
        raise RecommendationInputError("reason", "Say why the recommendation is rejected.")
    recommendation.snoozed_until = None
    recommendation_transition_record(
        recommendation=recommendation, to_state=Recommendation.State.REJECTED, user=user, reason=reason, now=now
    )
    return recommendation


@transaction.atomic
def recommendation_snooze(
    *, recommendation_id: int, user: AbstractBaseUser, until: date, reason: str = "", now: datetime | None = None
) -> Recommendation:
    """Snooze until `until` (a future date); snoozing a snoozed recommendation moves its date."""
    now = now or timezone.now()
    recommendation = _locked_for_decision(recommendation_id=recommendation_id, user=user, command="snoozed")
    if until <= now.date():
        raise RecommendationInputError("until", "The snooze must end after today.")
    recommendation.snoozed_until = until
    recommendation_transition_record(
        recommendation=recommendation,
        to_state=Recommendation.State.SNOOZED,
        user=user,
        reason=reason or f"Snoozed until {until.isoformat()}",
        now=now,
    )
    return recommendation


@transaction.atomic
def recommendations_wake(*, today: date | None = None, now: datetime | None = None) -> int:
    """Reopen snoozed recommendations whose date has come; returns how many."""
    now = now or timezone.now()
    today = today or now.date()
    woken = 0
    for recommendation in Recommendation.objects.select_for_update().filter(
        state=Recommendation.State.SNOOZED, snoozed_until__lte=today
    ):
        recommendation.snoozed_until = None
        recommendation_transition_record(
            recommendation=recommendation,
            to_state=Recommendation.State.OPEN,
            actor="snooze ended",
            reason=f"Snooze ended on {today.isoformat()}",
            now=now,
        )
        woken += 1
    return woken


def action_replannable(action: Action) -> bool:
    """A dry-run rehearsal (skipped, dry run) of an approved change whose account has since left dry run."""
    return action.state == Action.State.SKIPPED and action.dry_run and not action.account.dry_run


@transaction.atomic
def action_replan(*, action_id: int, user: AbstractBaseUser, now: datetime | None = None) -> Action:
    """Plan a dry-run-skipped action again, for real, now that its account has left dry run."""
    now = now or timezone.now()
    action = Action.objects.select_for_update().select_related("account").get(pk=action_id)
    if not user_can_approve_for_team(user, action.team_id):
        raise RecommendationForbidden("Only an approver of the resource's team, or an admin, may re-plan this.")
    if not action_replannable(action):
        raise RecommendationInputError(
            "action",
            f"Action {action.pk} is {action.state}"
            + (" and its account is still in dry run" if action.account.dry_run else "")
            + ": only an action skipped as a dry run, whose account has left dry run, can be re-planned.",
        )
    from_state = action.state
    rehearsal = action.result
    action.state = Action.State.PLANNED
    action.dry_run = False
    action.result = {"dry_run_rehearsal": rehearsal} if rehearsal else {}
    action.error = ""
    action.next_window_at = None
    action.save()
    ActionTransition.objects.create(
        action=action,
        from_state=from_state,
        to_state=Action.State.PLANNED,
        user=user,
        actor=user.get_username(),
        reason=f"Re-planned for real: account {action.account.account_id} has left dry run",
        at=now,
    )
    return action


def user_can_set_window(user: AbstractBaseUser, team: Team) -> bool:
    return user_can_approve_for_team(user, team.pk)


@transaction.atomic
def team_maintenance_window_set(*, team: Team, user: AbstractBaseUser, window: str) -> TeamSettings:
    """Set (or, blank, clear) the team's maintenance window; its approvers and admins may."""
    if not user_can_set_window(user, team):
        raise RecommendationForbidden("Only an approver of the team, or an admin, may set its maintenance window.")
    window = " ".join(window.split())
    if window:
        try:
            parse_window(window)
        except ValueError as error:
            raise RecommendationInputError("maintenance_window", str(error)) from None
    team_settings, _ = TeamSettings.objects.select_for_update().get_or_create(team=team)
    team_settings.maintenance_window = window
    team_settings.save()
    return team_settings
