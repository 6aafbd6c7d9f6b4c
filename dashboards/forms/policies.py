"""The Policies page's forms: the policy editor and the snooze of an announced action.

The editor only turns text into values (regions, tag filters); what a policy may be (the schedule grammar, which
action fits which resource kinds, the idle thresholds) is capacity.services.policies' question, asked in clean()
so its messages appear next to the field they are about.
"""

from __future__ import annotations

from django import forms

from capacity.models import Policy, Resource
from capacity.schedules import EXAMPLE
from capacity.services.policies import PolicyInputError, policy_validate
from finops.selectors.accounts import cloud_accounts_listed

POLICY_RESOURCE_KINDS = [
    (value, label) for value, label in Resource.Kind.choices if value != Resource.Kind.SAGEMAKER_TRAINING_JOB
]
# The Policy fields the editor sets, in the order the service takes them.
POLICY_FIELDS = (
    "name",
    "description",
    "enabled",
    "dry_run",
    "action",
    "trigger",
    "resource_kinds",
    "accounts",
    "regions",
    "tag_filters",
    "include_prod",
    "schedule",
    "schedule_tag_key",
    "idle_hours",
    "idle_gpu_percent",
    "idle_cpu_percent",
    "grace_minutes",
    "max_actions_per_run",
)


def tag_filters_text(tag_filters: dict[str, list[str]]) -> str:
    """{"team": ["vision", "speech"]} -> "team=vision,speech" (one key per line)."""
    return "\n".join(f"{key}={','.join(values)}" for key, values in sorted((tag_filters or {}).items()))


def tag_filters_parse(text: str) -> dict[str, list[str]]:
    """ "team=vision,speech; project=llm" (or one key per line) -> {"team": ["vision", "speech"], "project": [...]}."""
    filters: dict[str, list[str]] = {}
    for part in text.replace("\n", ";").split(";"):
        part = part.strip()
        if not part:
            continue
        key, separator, values = part.partition("=")
        key = key.strip()
        listed = [value.strip() for value in values.split(",") if value.strip()]
        if not separator or not key or not listed:
            raise forms.ValidationError(f"'{part}' is not key=value[,value…]: write e.g. team=vision,speech.")
        if key in filters:
            raise forms.ValidationError(f"The tag key '{key}' is given twice: list its values once, comma-separated.")
        filters[key] = listed
    return filters


class PolicyForm(forms.Form):
    """Create or edit a policy. `instance` is the policy being edited (None: a new one, which starts in dry run)."""

    name = forms.CharField(max_length=200)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    enabled = forms.BooleanField(required=False, initial=True)
    dry_run = forms.BooleanField(
        required=False,
        initial=True,
        label="Dry run",
        help_text="Only simulate: AWS is called with DryRun=True where it has it, and nothing changes.",
    )
    action = forms.ChoiceField(choices=Policy.Action.choices)
    trigger = forms.ChoiceField(choices=Policy.Trigger.choices, initial=Policy.Trigger.SCHEDULE)
    resource_kinds = forms.MultipleChoiceField(
        choices=POLICY_RESOURCE_KINDS,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Resource kinds",
        help_text="None ticked: every kind the action fits.",
    )
    accounts = forms.ModelMultipleChoiceField(
        queryset=cloud_accounts_listed(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: every account.",
    )
    regions = forms.CharField(required=False, help_text="Comma-separated, e.g. us-east-1,eu-west-1. Blank: all.")
    tag_filters = forms.CharField(
        required=False,
        label="Tag filters",
        widget=forms.Textarea(attrs={"rows": 2, "class": "code", "spellcheck": "false"}),
        help_text="key=value[,value…], one key per line or separated by ';': every key must match one of its values.",
    )
    include_prod = forms.BooleanField(
        required=False, label="Include prod", help_text="Act on resources tagged environment=prod too."
    )
    schedule = forms.CharField(
        max_length=500,
        required=False,
        widget=forms.TextInput(attrs={"class": "code", "spellcheck": "false", "placeholder": EXAMPLE}),
        help_text="Days M T W H F S U (H Thursday, U Sunday), 24-hour local times, an IANA zone, e.g. "
        "off=[(M-F,21),(U,18)];on=(M-F,7);tz=Europe/Berlin. Blank: each resource's schedule tag.",
    )
    schedule_tag_key = forms.CharField(max_length=128, label="Schedule tag key", initial="costplane:schedule")
    idle_hours = forms.IntegerField(required=False, min_value=1, label="Idle for (hours)")
    idle_gpu_percent = forms.DecimalField(
        required=False, min_value=0, max_value=100, max_digits=6, decimal_places=2, label="GPU utilisation below (%)"
    )
    idle_cpu_percent = forms.DecimalField(
        required=False, min_value=0, max_value=100, max_digits=6, decimal_places=2, label="Notebook CPU below (%)"
    )
    grace_minutes = forms.IntegerField(
        min_value=0, initial=30, label="Grace period (minutes)", help_text="Each action is announced this long before."
    )
    max_actions_per_run = forms.IntegerField(min_value=1, initial=10, label="Cap: actions per run")

    def __init__(self, *args, instance: Policy | None = None, **kwargs):
        self.instance = instance
        if instance is not None and "initial" not in kwargs:
            kwargs["initial"] = policy_form_initial(instance)
        super().__init__(*args, **kwargs)

    def clean_regions(self) -> list[str]:
        return [region.strip() for region in self.cleaned_data["regions"].split(",") if region.strip()]

    def clean_tag_filters(self) -> dict[str, list[str]]:
        return tag_filters_parse(self.cleaned_data["tag_filters"])

    def clean_schedule(self) -> str:
        return self.cleaned_data["schedule"].strip()

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        try:
            policy_validate(data=self.policy_values(), instance=self.instance)
        except PolicyInputError as error:
            self.add_error(error.field if error.field in self.fields else None, str(error))
        return data

    def policy_values(self) -> dict:
        """The cleaned values as the policy service takes them (call after is_valid())."""
        values = {name: self.cleaned_data.get(name) for name in POLICY_FIELDS}
        values["accounts"] = list(values["accounts"] or [])
        return values


def policy_form_initial(policy: Policy) -> dict:
    return {
        "name": policy.name,
        "description": policy.description,
        "enabled": policy.enabled,
        "dry_run": policy.dry_run,
        "action": policy.action,
        "trigger": policy.trigger,
        "resource_kinds": list(policy.resource_kinds or []),
        "accounts": list(policy.accounts.values_list("pk", flat=True)) if policy.pk else [],
        "regions": ",".join(policy.regions or []),
        "tag_filters": tag_filters_text(policy.tag_filters),
        "include_prod": policy.include_prod,
        "schedule": policy.schedule,
        "schedule_tag_key": policy.schedule_tag_key,
        "idle_hours": policy.idle_hours,
        "idle_gpu_percent": policy.idle_gpu_percent,
        "idle_cpu_percent": policy.idle_cpu_percent,
        "grace_minutes": policy.grace_minutes,
        "max_actions_per_run": policy.max_actions_per_run,
    }


class ActionSnoozeForm(forms.Form):
    """Snooze an announced policy action until a moment (UTC); who may is the service's question."""

    action = forms.IntegerField(widget=forms.HiddenInput)
    until = forms.DateTimeField(
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        label="Snooze until (UTC)",
    )
    reason = forms.CharField(required=False, max_length=2000, strip=True)
