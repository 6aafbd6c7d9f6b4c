"""Idle-shutdown and off-hours policies: editing them, deciding what they do, and announcing and snoozing actions.

Decisions:
- Modules: editing.py (validation, create, update, delete), selection.py (the resources a policy selects, the
  schedule for each), guards.py (opt-out, prod guard), deciding.py (policy_decisions, the preview), running.py
  (recording decisions, announcing, snoozing). Running the actions is capacity/services/actions/policy.py's.
- Operators (and admins) create and edit policies (editing.py; PolicyInputError names the field). A new
  policy starts in dry run. An action kind fits its resources: stop_start -> EC2 instances and notebook instances,
  endpoint_delete_recreate -> SageMaker endpoints, scale_to_zero -> Auto Scaling groups and EKS node groups; an
  empty `resource_kinds` means all the kinds the action fits.
- `policy_decisions` is the one place that decides, for `policy_preview` (reads only) and `policy_evaluate`
  (writes). Schedule trigger: while the schedule says off, a live, running resource gets an off action
  (stop / delete / scale_to_zero) for the last off boundary; while it says on, each off action of the policy that
  changed something and has no on action after it gets its on action (start / recreate / restore) for the last on
  boundary. Never is anything started that the policy did not stop. Idle trigger: the boundary is the first hour of
  the current idle streak; idle actions are not undone automatically (people start what they need).
- At most one action per (policy, resource, kind, boundary) (a database constraint; cap skips apart, see Guards): a
  boundary acted on, skipped or snoozed is never acted on again, so a resource started by hand during off-hours
  stays on until the next off.
- Guards (guards.py, asked again when an action runs), recorded as skipped actions with the reason (once per
  boundary): the opt-out tag
  `costplane:keep-alive=true` always wins; resources tagged environment=prod (key: COSTPLANE_ENVIRONMENT_TAG_KEY)
  unless `include_prod`; beyond `max_actions_per_run` off actions in one evaluation: "cap reached" (on actions are
  never capped: a capped restore would leave things off). A cap skip is no decision: it is recorded once per
  boundary as a skipped action marked `capped`, counted apart (`last_run["counts"]["capped"]`, not among the
  actions taken), and does not hold the boundary, so the next run acts on it (within its own cap). A schedule tag
  that does not parse is an error naming the resource and the tag: shown by the preview, kept in
  `policy.last_run["errors"]`, never raised.
- Off actions are created `announced` with `run_after` = now + grace_minutes and announced to the owning team
  (finops notifications, event "action.announced") after the commit; on actions are `planned`, due at once.
- `policy_evaluate` holds the policy's row lock (select_for_update skip_locked): two beats or workers never
  evaluate one policy at once; the second skips it.
- Snooze: the owning team's approvers or admins. The action stays announced with `run_after` moved to `until`;
  when `until` reaches the schedule's next on transition (the off period would be over) it becomes skipped with
  "Snoozed ..." at once, as ARCHITECTURE lists snoozed among skip reasons.
- Hourly saving: the stored on-demand price of what stops (instance, notebook, endpoint instances, group
  instances); None without a price (never guessed).
"""

from capacity.services.policies.deciding import Decision, policy_decisions, policy_preview, resource_hourly_saving
from capacity.services.policies.editing import (
    KINDS_FOR_ACTION,
    ActionStateError,
    PolicyForbidden,
    PolicyInputError,
    policy_create,
    policy_delete,
    policy_update,
    policy_validate,
)
from capacity.services.policies.running import (
    action_snooze,
    actions_announce,
    policies_evaluate,
    policy_evaluate,
)
from capacity.services.policies.selection import policy_resources, policy_schedule_for

__all__ = [
    "KINDS_FOR_ACTION",
    "ActionStateError",
    "Decision",
    "PolicyForbidden",
    "PolicyInputError",
    "action_snooze",
    "actions_announce",
    "policies_evaluate",
    "policy_create",
    "policy_decisions",
    "policy_delete",
    "policy_evaluate",
    "policy_preview",
    "policy_resources",
    "policy_schedule_for",
    "policy_update",
    "policy_validate",
    "resource_hourly_saving",
]
