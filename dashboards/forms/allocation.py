"""The Allocation page's forms: the report controls (GET) and a new version of the allocation rules (POST)."""

from __future__ import annotations

import json

from django import forms
from django.conf import settings

WINDOW_CHOICES = [
    ("7d", "Last 7 days"),
    ("30d", "Last 30 days"),
    ("mtd", "Month to date"),
    ("lastmonth", "Last month"),
    ("custom", "Custom dates"),
]
STEP_CHOICES = [("week", "Week"), ("day", "Day"), ("month", "Month")]
COST_BASIS_CHOICES = [("billed", "Billed"), ("effective", "Effective (amortised)")]
NON_TAG_KEYS = [("account", "Account"), ("service", "Service")]


def allocation_key_choices() -> list[tuple[str, str]]:
    """The tag keys from settings (team first by default), then account and service."""
    tag_keys = [(f"tag:{key}", f"{key.capitalize()} tag") for key in settings.COSTPLANE_ALLOCATION_TAG_KEYS]
    return [*tag_keys, *NON_TAG_KEYS]


def allocation_key_default() -> str:
    return "tag:team" if "team" in settings.COSTPLANE_ALLOCATION_TAG_KEYS else allocation_key_choices()[0][0]


class AllocationControlsForm(forms.Form):
    """The Allocation page's GET controls; `report_params()` gives the Reports API parameters they mean."""

    window = forms.ChoiceField(choices=WINDOW_CHOICES, initial="30d", required=False)
    start = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}), label="From")
    end = forms.DateField(
        required=False, widget=forms.DateInput(attrs={"type": "date"}), label="To", help_text="Exclusive."
    )
    key = forms.ChoiceField(choices=(), required=False, label="Allocate by")
    step = forms.ChoiceField(choices=STEP_CHOICES, initial="week", required=False)
    cost_basis = forms.ChoiceField(choices=COST_BASIS_CHOICES, initial="billed", required=False, label="Cost basis")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["key"].choices = allocation_key_choices()
        self.fields["key"].initial = allocation_key_default()

    def clean(self):
        data = super().clean()
        for name in ("window", "key", "step", "cost_basis"):
            if not data.get(name):
                data[name] = self.fields[name].initial
        if data["window"] == "custom":
            start, end = data.get("start"), data.get("end")
            if not start or not end:
                self.add_error("start", "Give both dates for a custom window.")
            elif end < start:
                self.add_error("end", f"The window ends ({end}) before it starts ({start}).")
        return data

    def report_params(self) -> dict[str, str]:
        """window, aggregate, step and cost_basis as the Reports API takes them (call after is_valid())."""
        data = self.cleaned_data
        window = data["window"]
        if window == "custom":
            window = f"{data['start'].isoformat()},{data['end'].isoformat()}"
        return {"window": window, "aggregate": data["key"], "step": data["step"], "cost_basis": data["cost_basis"]}


class AllocationRulesForm(forms.Form):
    """A new rules version: the JSON document and a comment. Rule errors are added by the view after publishing."""

    document = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 18, "spellcheck": "false", "class": "code"}), label="Rules document (JSON)"
    )
    comment = forms.CharField(max_length=500, required=False, help_text="Why this change; kept in the history.")

    def clean_document(self) -> dict:
        text = self.cleaned_data["document"]
        try:
            document = json.loads(text)
        except json.JSONDecodeError as error:
            raise forms.ValidationError(
                f"Not valid JSON: {error.msg} (line {error.lineno}, column {error.colno})."
            ) from None
        if not isinstance(document, dict):
            raise forms.ValidationError("The rules document is a JSON object: {...}.")
        return document
