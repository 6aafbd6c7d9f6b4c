"""The Policies page (/schedules/): idle-shutdown and off-hours policies, what each would do now, the announced
actions and their snooze, the history of policy actions, and the savings to date.

Everything it decides is capacity.services.policies': the editor's form asks policy_validate, the preview is
policy_preview (reads only), a snooze is action_snooze. The page reads the capacity selectors.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.views.generic import TemplateView

from capacity.models import Action, Policy, Resource
from capacity.selectors.policies import (
    policies_with_accounts,
    policy_action_get,
    policy_actions_upcoming,
    policy_get,
    policy_history,
    policy_savings,
)
from capacity.services.policies import (
    ActionStateError,
    PolicyForbidden,
    PolicyInputError,
    action_snooze,
    policy_create,
    policy_delete,
    policy_preview,
    policy_update,
)
from dashboards.access import ViewerRequiredMixin
from dashboards.charts.base import to_html
from dashboards.charts.policies import upcoming_actions_timeline
from dashboards.forms.policies import ActionSnoozeForm, PolicyForm
from dashboards.tables.policies import (
    PolicyHistoryTable,
    PolicyPreviewTable,
    PolicySavingsTable,
    PolicyTable,
    UpcomingActionTable,
    action_resource_label,
)
from dashboards.templatetags.labels import account_label_text
from dashboards.views.fragments import FragmentMixin
from finops.reports import money_sum
from finops.roles import user_can_approve_for_team, user_is_operator
from finops.selectors.accounts import cloud_account_names

KIND_LABELS = dict(Resource.Kind.choices)
ACTION_KIND_LABELS = dict(Action.Kind.choices)
# A snooze is offered for an hour past the action's run time unless the user picks another moment.
SNOOZE_DEFAULT = timedelta(hours=1)
HISTORY_LENGTH = 50
WOULD_LABELS = {
    "stop": "would stop",
    "start": "would start",
    "delete": "would delete",
    "recreate": "would recreate",
    "scale": "would scale to zero",
    "restore": "would restore",
    "skip": "would skip",
    "none": "nothing to do",
}


def policy_preview_rows(items: list[dict]) -> list[dict]:
    """policy_preview's items as the preview table shows them: acting ones first, then skips, then the rest."""
    accounts = cloud_account_names()
    rows = [
        {
            "resource": item["resource"],
            "resource_id": item["resource_id"],
            "kind": KIND_LABELS.get(item["resource_kind"], item["resource_kind"]),
            "account": f"{account_label_text(item['account_id'], accounts)} {item['region']}",
            "would": WOULD_LABELS.get(item["would"], item["would"]),
            "acts": item["would"] not in ("skip", "none"),
            "skips": item["would"] == "skip",
            "capped": item["capped"],
            "reason": item["error"] or item["reason"],
            "error": bool(item["error"]),
            "hourly_saving": item["hourly_saving"],
            "next_transition": item["next_transition"],
        }
        for item in items
    ]
    rows.sort(key=lambda row: (not row["acts"], not row["skips"]))
    return rows


def upcoming_timeline_frame(actions: list[Action]) -> pd.DataFrame:
    """The timeline chart's rows: one per action with a time to run."""
    rows = [
        {
            "resource": action_resource_label(action),
            "policy": action.policy.name if action.policy else "",
            "kind": action.kind,
            "kind_label": ACTION_KIND_LABELS.get(action.kind, action.kind),
            "state": action.get_state_display(),
            "announced_at": action.created_at,
            "runs_at": action.run_after or action.transition_at,
        }
        for action in actions
        if (action.run_after or action.transition_at) is not None
    ]
    return pd.DataFrame(rows, columns=["resource", "policy", "kind", "kind_label", "state", "announced_at", "runs_at"])


class PoliciesView(ViewerRequiredMixin, FragmentMixin, TemplateView):
    """Policies: the list, the editor (operators and admins), a preview per policy, upcoming actions with their
    snooze (the owning team's approvers and admins), the history and the savings to date.

    One view, several renderings: the full page (`?edit=<pk>|new` opens the editor, `?preview=<pk>` the preview);
    the preview fragment for htmx (HX-Target policy-preview). Edits and snoozes are plain POST forms; a saved
    policy or a snooze redirects back with a message, an invalid policy re-renders the editor with the errors
    next to their fields.
    """

    template_name = "dashboards/policies.html"
    fragment_targets = {"policy-preview": ("dashboards/_policy_preview.html", "preview_fragment")}

    def preview_fragment(self) -> dict:
        return self.preview_context(self.request.GET.get("preview", ""))

    def post(self, request, *args, **kwargs):
        if request.POST.get("command") == "snooze":
            return self.snooze_post(request)
        if request.POST.get("command") == "delete":
            return self.delete_post(request)
        return self.save_post(request)

    # Editing

    def save_post(self, request):
        if not user_is_operator(request.user):
            raise PermissionDenied("Editing policies needs the operator or admin role.")
        instance = self.policy_or_404(request.POST.get("policy", "")) if request.POST.get("policy") else None
        form = PolicyForm(request.POST, instance=instance)
        if form.is_valid():
            try:
                if instance is None:
                    policy = policy_create(user=request.user, data=form.policy_values())
                else:
                    policy = policy_update(policy_id=instance.pk, user=request.user, data=form.policy_values())
            except PolicyForbidden as error:
                raise PermissionDenied(str(error)) from None
            except PolicyInputError as error:
                form.add_error(error.field if error.field in form.fields else None, str(error))
            else:
                mode = "in dry run: it only simulates" if policy.dry_run else "for real: it will act on AWS"
                verb = "Created" if instance is None else "Saved"
                messages.success(request, f"{verb} policy {policy.name}, {mode}.")
                return redirect(f"{reverse('dashboards:schedules')}?preview={policy.pk}#policy-{policy.pk}")
        context = self.get_context_data(policy_form=form, editing=instance, editor_open=True)
        return self.render_to_response(context, status=400)

    def delete_post(self, request):
        if not user_is_operator(request.user):
            raise PermissionDenied("Deleting policies needs the operator or admin role.")
        policy = self.policy_or_404(request.POST.get("policy", ""))
        try:
            policy_delete(policy_id=policy.pk, user=request.user)
        except PolicyForbidden as error:
            raise PermissionDenied(str(error)) from None
        except PolicyInputError as error:
            messages.warning(request, f"Nothing changed: {error}")
            return redirect(f"{reverse('dashboards:schedules')}?edit={policy.pk}#policy-editor")
        messages.success(request, f"Deleted policy {policy.name}.")
        return redirect(reverse("dashboards:schedules"))

    @staticmethod
    def policy_or_404(pk: str) -> Policy:
        policy = policy_get(policy_id=pk)
        if policy is None:
            raise Http404("No such policy.")
        return policy

    # Snoozing

    def snooze_post(self, request):
        action = policy_action_get(action_id=request.POST.get("action", ""))
        if action is None:
            raise Http404("No such policy action.")
        if not user_can_approve_for_team(request.user, action.team_id):
            raise PermissionDenied("Only an approver of the resource's team, or an admin, may snooze this action.")
        back = f"{reverse('dashboards:schedules')}#upcoming-actions"
        form = ActionSnoozeForm(request.POST)
        label = f"{action.get_kind_display().lower()} of {action_resource_label(action)}"
        if not form.is_valid():
            for errors in form.errors.values():
                for error in errors:
                    messages.error(request, f"Nothing changed: {error}")
            return redirect(back)
        try:
            snoozed = action_snooze_call(action=action, user=request.user, form=form)
        except PolicyForbidden as error:
            raise PermissionDenied(str(error)) from None
        except ActionStateError as error:
            messages.warning(request, f"Nothing changed: {error}")
        except PolicyInputError as error:
            messages.error(request, f"Nothing changed: {error}")
        else:
            if snoozed.state == Action.State.SKIPPED:
                messages.success(request, f"Snoozed the {label}: the off period ends before then, so it is skipped.")
            else:
                messages.success(request, f"Snoozed the {label} until {snoozed.run_after:%Y-%m-%d %H:%M} UTC.")
        return redirect(back)

    # Reading

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        now = timezone.now()
        user = self.request.user
        page_url = reverse("dashboards:schedules")
        can_edit = user_is_operator(user)
        policies = list(policies_with_accounts())
        savings = policy_savings_rows(policies, now)
        by_policy = {row["policy"].pk: row for row in savings}
        context.update(
            now=now,
            page_url=page_url,
            can_edit=can_edit,
            has_policies=bool(policies),
            policies_table=PolicyTable(
                [
                    {
                        "policy": policy,
                        "actions": policy.action_count,
                        "capped": policy.capped_count,
                        "estimated": by_policy[policy.pk]["estimated"],
                        "unpriced": by_policy[policy.pk]["unpriced"],
                        "measured": by_policy[policy.pk]["measured"],
                    }
                    for policy in policies
                ],
                page_url=page_url,
                can_edit=can_edit,
            ),
            savings_table=PolicySavingsTable(savings),
            summary=policies_summary(policies, savings),
        )
        context.update(self.upcoming_context(now, page_url))
        context["history_table"] = PolicyHistoryTable(list(policy_history()[:HISTORY_LENGTH]))
        if can_edit:
            context.update(self.editor_context(kwargs))
        preview = self.request.GET.get("preview", "")
        if preview:
            context.update(self.preview_context(preview), preview_open=True)
        return context

    def editor_context(self, kwargs: dict) -> dict:
        if "policy_form" in kwargs:
            return {}
        edit = self.request.GET.get("edit", "")
        if edit and edit != "new":
            editing = self.policy_or_404(edit)
            return {"policy_form": PolicyForm(instance=editing), "editing": editing, "editor_open": True}
        return {"policy_form": PolicyForm(), "editing": None, "editor_open": edit == "new"}

    def upcoming_context(self, now: datetime, page_url: str) -> dict:
        actions = list(policy_actions_upcoming())
        user = self.request.user
        table = UpcomingActionTable(
            actions,
            page_url=page_url,
            request=self.request,
            can_snooze=lambda action: user_can_approve_for_team(user, action.team_id),
            snooze_default=lambda action: ((action.run_after or now) + SNOOZE_DEFAULT).astimezone(UTC),
        )
        frame = upcoming_timeline_frame(actions)
        return {
            "upcoming_table": table,
            "upcoming_count": len(actions),
            "upcoming_chart": to_html(upcoming_actions_timeline(frame, now=now)) if not frame.empty else "",
        }

    def preview_context(self, pk: str) -> dict:
        policy = self.policy_or_404(pk)
        rows = policy_preview_rows(policy_preview(policy=policy))
        acting = [row for row in rows if row["acts"]]
        known = [row["hourly_saving"] for row in acting if row["hourly_saving"] is not None]
        return {
            "preview_policy": policy,
            "preview_at": timezone.now(),
            "preview_table": PolicyPreviewTable(rows),
            "preview_counts": {
                "acting": len(acting),
                "skipping": sum(1 for row in rows if row["skips"] and not row["capped"]),
                "capped": sum(1 for row in rows if row["capped"]),
                "errors": sum(1 for row in rows if row["error"]),
                "resources": len(rows),
            },
            "preview_saving": money_sum(known) if known else None,
            "preview_unpriced": len(acting) - len(known),
        }


def action_snooze_call(*, action: Action, user, form: ActionSnoozeForm) -> Action:
    return action_snooze(
        action_id=action.pk, user=user, until=form.cleaned_data["until"], reason=form.cleaned_data["reason"]
    )


def policies_summary(policies: list[Policy], savings: list[dict]) -> dict:
    estimated = [row["estimated"] for row in savings if row["estimated"] is not None]
    measured = [row["measured"] for row in savings if row["measured"] is not None]
    return {
        "count": len(policies),
        "enabled": sum(1 for policy in policies if policy.enabled),
        "dry_run": sum(1 for policy in policies if policy.dry_run),
        "estimated": money_sum(estimated) if estimated else None,
        "measured": money_sum(measured) if measured else None,
        "unpriced": sum(row["unpriced"] for row in savings),
    }


def policy_savings_rows(policies: list[Policy], now: datetime) -> list[dict]:
    """One row per policy: policy, name, actions (off actions done for real), hours_off, estimated (None before
    any), unpriced (actions without a price), measured (a month, from billing; None until measured)."""
    rows = []
    for policy in policies:
        savings = policy_savings(policy=policy, now=now)
        rows.append(
            {
                "policy": policy,
                "name": policy.name,
                "actions": savings.actions,
                "hours_off": savings.hours_off,
                "estimated": savings.estimated if savings.actions else None,
                "unpriced": savings.unpriced_actions,
                "measured": savings.measured_monthly,
            }
        )
    return rows
