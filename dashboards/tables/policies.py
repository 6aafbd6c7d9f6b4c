"""The Policies page's tables: the policies, a preview, the upcoming actions, their history and the savings."""

from __future__ import annotations

from decimal import Decimal

import django_tables2 as tables
from django.middleware.csrf import get_token
from django.utils.html import format_html

from capacity.models import Action, Policy, Resource
from capacity.services.policies import KINDS_FOR_ACTION
from dashboards.tables.columns import NUMERIC, WRAP, money_html
from dashboards.templatetags.labels import account_label_text
from finops.reports import money_sum

KIND_LABELS = dict(Resource.Kind.choices)
NOT_MEASURED = "not measured yet"


def policy_trigger_html(policy: Policy):
    """The schedule as written, the tag it is read from, or the idle rule in words."""
    if policy.trigger == Policy.Trigger.SCHEDULE:
        if policy.schedule:
            return format_html('<code class="schedule">{}</code>', policy.schedule)
        return format_html('<span class="muted">each resource\'s</span> <code>{}</code> tag', policy.schedule_tag_key)
    parts = []
    if policy.idle_gpu_percent is not None:
        parts.append(f"GPU < {policy.idle_gpu_percent.normalize():f}%")
    if policy.idle_cpu_percent is not None:
        parts.append(f"notebook CPU < {policy.idle_cpu_percent.normalize():f}%")
    if Resource.Kind.SAGEMAKER_ENDPOINT in (policy.resource_kinds or []):
        parts.append("no invocations")
    rule = ", ".join(parts) or "idle"
    hours = f" for {policy.idle_hours} h" if policy.idle_hours else ""
    return format_html("Idle rule: {}{}", rule, hours)


def policy_selector_text(policy: Policy, account_names: list[str]) -> str:
    """What the policy selects; no kinds listed means every kind its action fits."""
    chosen = policy.resource_kinds or KINDS_FOR_ACTION.get(policy.action, ())
    kinds = ", ".join(KIND_LABELS.get(kind, kind) for kind in chosen)
    accounts = ", ".join(account_names) if account_names else "all accounts"
    regions = ", ".join(policy.regions) if policy.regions else "all regions"
    tags = "; ".join(f"{key}={','.join(values)}" for key, values in sorted((policy.tag_filters or {}).items()))
    text = f"{kinds} · {accounts} · {regions}"
    if tags:
        text += f" · {tags}"
    return text + (" · prod included" if policy.include_prod else "")


def last_evaluation_html(policy: Policy):
    """When the engine last evaluated the policy, and the schedule-tag errors it met then."""
    if policy.last_evaluated_at is None:
        return format_html('<br><span class="muted last-evaluated">{}</span>', "not evaluated yet")
    errors = (policy.last_run or {}).get("errors") or []
    problem = ""
    if errors:
        problem = format_html(
            ' · <span class="error-text" title="{}">{} error{}</span>',
            "\n".join(errors),
            len(errors),
            "" if len(errors) == 1 else "s",
        )
    return format_html(
        '<br><span class="muted last-evaluated">evaluated {} UTC</span>{}',
        policy.last_evaluated_at.strftime("%Y-%m-%d %H:%M"),
        problem,
    )


def yes_no_badge(value: bool, yes: str, no: str, *, css: str):
    return format_html('<span class="badge {}-{}">{}</span>', css, "on" if value else "off", yes if value else no)


class PolicyTable(tables.Table):
    """Rows are dicts: policy (with accounts prefetched), actions (taken: cap skips apart), capped (cap skips),
    estimated, measured (Decimal | None)."""

    name = tables.Column(verbose_name="Policy", accessor="policy__name", attrs=WRAP)
    enabled = tables.Column(verbose_name="Enabled", accessor="policy__enabled")
    dry_run = tables.Column(verbose_name="Dry run", accessor="policy__dry_run")
    action = tables.Column(verbose_name="Action", accessor="policy__action", attrs=WRAP)
    trigger = tables.Column(verbose_name="Trigger", accessor="policy", empty_values=(), attrs=WRAP)
    selector = tables.Column(verbose_name="Selects", accessor="policy", empty_values=(), attrs=WRAP)
    actions = tables.Column(verbose_name="Actions to date", attrs=NUMERIC)
    estimated = tables.Column(verbose_name="Estimated savings to date", attrs=NUMERIC, empty_values=())
    measured = tables.Column(verbose_name="Measured savings", attrs=NUMERIC, empty_values=())
    buttons = tables.Column(verbose_name="", accessor="policy", empty_values=(), attrs={"td": {"class": "buttons"}})

    class Meta:
        orderable = False
        attrs = {"id": "policies-table", "class": "data policies"}
        row_attrs = {"data-policy": lambda record: record["policy"].pk}
        empty_text = "No policy yet."

    def __init__(self, *args, page_url: str, can_edit: bool, **kwargs):
        self.page_url, self.can_edit = page_url, can_edit
        super().__init__(*args, **kwargs)

    def render_name(self, value, record):
        policy = record["policy"]
        description = format_html('<br><span class="muted">{}</span>', policy.description) if policy.description else ""
        return format_html(
            '<span class="resource-name" id="policy-{}">{}</span>{}{}',
            policy.pk,
            value,
            description,
            last_evaluation_html(policy),
        )

    def render_enabled(self, value):
        return yes_no_badge(value, "enabled", "disabled", css="enabled")

    def render_dry_run(self, value):
        return yes_no_badge(value, "dry run", "for real", css="dryrun")

    def render_action(self, record):
        return record["policy"].get_action_display()

    def render_trigger(self, value):
        return policy_trigger_html(value)

    def render_selector(self, value):
        names = [account_label_text(account) for account in value.accounts.all()]
        return policy_selector_text(value, names)

    def render_actions(self, value, record):
        capped = record.get("capped") or 0
        if not capped:
            return value
        return format_html(
            '{}<br><span class="muted capped-count" title="{}">{} over the cap, not counted</span>',
            value,
            "Resources a run left to the next one because it reached its cap per run: no action was taken on them",
            capped,
        )

    def render_estimated(self, value, record):
        return estimated_html(value, record["unpriced"])

    def render_measured(self, value):
        return savings_or_not_measured(value)

    def render_buttons(self, value):
        preview = format_html(
            '<a class="button small secondary preview-button" href="{}?preview={}#policy-preview-panel" '
            'hx-get="{}?preview={}" hx-target="#policy-preview" hx-swap="innerHTML" hx-push-url="false" '
            'data-policy="{}">Preview</a>',
            self.page_url,
            value.pk,
            self.page_url,
            value.pk,
            value.pk,
        )
        if not self.can_edit:
            return preview
        return format_html(
            '{} <a class="button small edit-button" href="{}?edit={}#policy-editor" data-policy="{}">Edit</a>',
            preview,
            self.page_url,
            value.pk,
            value.pk,
        )


class PolicyPreviewTable(tables.Table):
    """What a policy would do now: rows are dicts resource, kind, account, would (verb), acts (bool), reason,
    hourly_saving (Decimal | None), next_transition (datetime | None)."""

    resource = tables.Column(verbose_name="Resource", attrs=WRAP)
    would = tables.Column(verbose_name="Would", empty_values=())
    reason = tables.Column(verbose_name="Why", attrs=WRAP, empty_values=())
    hourly_saving = tables.Column(verbose_name="Est. saving / hour", attrs=NUMERIC, empty_values=())
    next_transition = tables.Column(verbose_name="Next transition (UTC)", empty_values=())

    class Meta:
        orderable = False
        attrs = {"id": "policy-preview-table", "class": "data"}
        row_attrs = {"class": lambda record: "would-act" if record["acts"] else "would-skip"}
        empty_text = "The policy selects no resource: check its resource kinds, accounts, regions and tag filters."

    def render_resource(self, value, record):
        return format_html(
            '<span class="resource-name" title="{}">{}</span><br><span class="muted">{} · {}</span>',
            record["resource_id"],
            value,
            record["kind"],
            record["account"],
        )

    def render_would(self, value, record):
        return format_html('<span class="badge {}">{}</span>', "would-act" if record["acts"] else "would-skip", value)

    def render_reason(self, value, record):
        if record["error"]:
            return format_html('<span class="error-text schedule-error">{}</span>', value)
        return value or "—"

    def render_hourly_saving(self, value):
        return money_html(value) if value is not None else format_html('<span class="no-data">{}</span>', "no price")

    def render_next_transition(self, value):
        return value.strftime("%Y-%m-%d %H:%M") if value else "—"


def action_resource_label(action: Action) -> str:
    if action.resource is not None:
        return action.resource.name or action.resource.resource_id.rsplit("/", 1)[-1]
    return action.resource_arn.rsplit("/", 1)[-1]


class UpcomingActionTable(tables.Table):
    """Announced and planned policy actions, soonest first (a queryset with policy, resource, team, account)."""

    run_after = tables.Column(verbose_name="Runs at (UTC)", empty_values=())
    resource = tables.Column(verbose_name="Resource", empty_values=(), attrs=WRAP)
    kind = tables.Column(verbose_name="Action")
    policy = tables.Column(verbose_name="Policy", accessor="policy__name")
    team = tables.Column(verbose_name="Team", accessor="team__name", default="—")
    state = tables.Column(verbose_name="State")
    hourly_saving = tables.Column(verbose_name="Est. saving / hour", attrs=NUMERIC, empty_values=())
    reason = tables.Column(verbose_name="Why", attrs=WRAP, empty_values=())
    snooze = tables.Column(verbose_name="", empty_values=(), accessor="pk", attrs={"td": {"class": "buttons"}})

    class Meta:
        orderable = False
        attrs = {"id": "upcoming-actions-table", "class": "data"}
        row_attrs = {"data-action": lambda record: record.pk}
        empty_text = "No policy action is announced or planned."

    def __init__(self, *args, page_url: str, request, can_snooze, snooze_default, **kwargs):
        self.page_url, self.request = page_url, request
        self.can_snooze, self.snooze_default = can_snooze, snooze_default
        super().__init__(*args, **kwargs)

    def render_run_after(self, value, record):
        when = value or record.next_window_at
        if when is None:
            return format_html('<span class="muted">{}</span>', "not scheduled")
        boundary = ""
        if record.transition_at and record.transition_at != when:
            boundary = format_html('<br><span class="muted">boundary {}</span>', record.transition_at.strftime("%H:%M"))
        return format_html("{}{}", when.strftime("%Y-%m-%d %H:%M"), boundary)

    def render_resource(self, record):
        return format_html(
            '<span class="resource-name" title="{}">{}</span><br><span class="muted">{}</span>',
            record.resource_arn,
            action_resource_label(record),
            account_label_text(record.account),
        )

    def render_kind(self, record):
        dry_run = format_html(' <span class="muted">{}</span>', "dry run") if record.dry_run else ""
        return format_html("{}{}", record.get_kind_display(), dry_run)

    def render_state(self, value, record):
        return format_html('<span class="badge action-{}">{}</span>', value, record.get_state_display())

    def render_hourly_saving(self, value):
        return money_html(value) if value is not None else format_html('<span class="no-data">{}</span>', "no price")

    def render_reason(self, value):
        return value or "—"

    def render_snooze(self, record):
        if record.state != Action.State.ANNOUNCED or not self.can_snooze(record):
            return ""
        return format_html(
            '<form method="post" action="{}" class="snooze-form" id="snooze-{}">'
            '<input type="hidden" name="csrfmiddlewaretoken" value="{}">'
            '<input type="hidden" name="command" value="snooze"><input type="hidden" name="action" value="{}">'
            '<label for="snooze-until-{}" class="visually-hidden">Snooze until (UTC)</label>'
            '<input type="datetime-local" name="until" id="snooze-until-{}" value="{}" required>'
            '<span class="muted">UTC</span>'
            '<input type="text" name="reason" placeholder="why (optional)" maxlength="2000" aria-label="Reason">'
            '<button type="submit" class="small snooze">Snooze</button></form>',
            self.page_url,
            record.pk,
            get_token(self.request),
            record.pk,
            record.pk,
            record.pk,
            self.snooze_default(record).strftime("%Y-%m-%dT%H:%M"),
        )


class PolicyHistoryTable(tables.Table):
    """Recent transitions of policy actions, newest first (ActionTransition with action, policy, resource)."""

    at = tables.Column(verbose_name="When (UTC)")
    actor = tables.Column(verbose_name="Who")
    what = tables.Column(verbose_name="What", accessor="action", empty_values=(), attrs=WRAP)
    change = tables.Column(verbose_name="Change", empty_values=())
    reason = tables.Column(verbose_name="Why", attrs=WRAP, empty_values=())

    class Meta:
        orderable = False
        attrs = {"id": "policy-history-table", "class": "data"}
        empty_text = "No policy action has happened yet."

    def render_at(self, value):
        return value.strftime("%Y-%m-%d %H:%M")

    def render_what(self, value):
        return format_html(
            '{} <span class="resource-name">{}</span><br><span class="muted">{}</span>',
            value.get_kind_display(),
            action_resource_label(value),
            value.policy.name if value.policy else "",
        )

    def render_change(self, record):
        return format_html("{} → {}", record.from_state or "created", record.to_state)

    def render_reason(self, value):
        return value or "—"


def savings_or_not_measured(value: Decimal | None):
    if value is None:
        return format_html('<span class="no-data">{}</span>', NOT_MEASURED)
    return format_html("{} {}", money_html(value), format_html('<span class="muted">{}</span>', "a month"))


def estimated_html(value: Decimal | None, unpriced: int = 0):
    if value is None:
        return format_html('<span class="muted">{}</span>', "none yet")
    if unpriced:
        note = format_html('<br><span class="muted">+ {} action{} without a price</span>', unpriced,
                           "" if unpriced == 1 else "s")  # fmt: skip
        return format_html("{}{}", money_html(value), note)
    return money_html(value)


class PolicySavingsTable(tables.Table):
    """Savings to date per policy: rows are dicts name, actions (off actions done for real), hours_off, estimated
    (None before any), unpriced, measured (a month, from billing; None until measured)."""

    name = tables.Column(verbose_name="Policy", footer="All policies", attrs={"tf": {"class": "total-label"}})
    actions = tables.Column(verbose_name="Off actions done", attrs=NUMERIC,
                            footer=lambda table: sum(row["actions"] for row in table.data))  # fmt: skip
    hours_off = tables.Column(verbose_name="Hours off", attrs=NUMERIC, footer=lambda table: table.render_hours_off(
        sum((row["hours_off"] for row in table.data), Decimal(0))))  # fmt: skip
    estimated = tables.Column(
        verbose_name="Estimated to date",
        attrs=NUMERIC,
        empty_values=(),
        footer=lambda table: estimated_html(table.total("estimated"), sum(row["unpriced"] for row in table.data)),
    )
    measured = tables.Column(
        verbose_name="Measured from billing",
        attrs=NUMERIC,
        empty_values=(),
        footer=lambda table: savings_or_not_measured(table.total("measured")),
    )

    class Meta:
        orderable = False
        attrs = {"id": "policy-savings-table", "class": "data"}
        empty_text = "No policy yet."

    def total(self, key: str) -> Decimal | None:
        values = [row[key] for row in self.data if row[key] is not None]
        return money_sum(values) if values else None

    def render_hours_off(self, value):
        return f"{value:,.1f}"

    def render_estimated(self, value, record):
        return estimated_html(value, record["unpriced"])

    def render_measured(self, value):
        return savings_or_not_measured(value)
