"""The Allocation page's forms: the report controls (GET) and a new version of the allocation rules (POST)."""

from __future__ import annotations

import json
from datetime import date, timedelta

from django import forms
from django.conf import settings

from dashboards.templatetags.labels import account_label_text
from finops.models import CostRecord
from finops.reports import FILTERS, WINDOWS_RELATIVE, window_parse
from finops.selectors.billing import BillingFilterOptions

WINDOW_LABELS = {
    "7d": "Last 7 days",
    "30d": "Last 30 days",
    "90d": "Last 90 days",
    "mtd": "Month to date",
    "lastmonth": "Last month",
    "ytd": "Year to date",
}
# The relative windows the Reports API takes (in its order), then custom dates.
WINDOW_CHOICES = [
    *((window, WINDOW_LABELS.get(window, window)) for window in WINDOWS_RELATIVE),
    ("custom", "Custom dates"),
]
STEP_CHOICES = [("week", "Week"), ("day", "Day"), ("month", "Month")]
COST_BASIS_CHOICES = [("billed", "Billed"), ("effective", "Effective (amortised)")]
NON_TAG_KEYS = [
    ("account", "Account"),
    ("service", "Service"),
    ("region", "Region"),
    ("charge_category", "Charge category"),
]


def allocation_key_choices() -> list[tuple[str, str]]:
    """The tag keys from settings (team first by default), then account, service, region and charge category."""
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
    # The Reports API's filters (finops.reports.FILTERS), each repeatable: they narrow the rows before anything else.
    service = forms.MultipleChoiceField(choices=(), required=False, label="Service")
    account = forms.MultipleChoiceField(choices=(), required=False, label="Account")
    region = forms.MultipleChoiceField(choices=(), required=False, label="Region")
    charge_category = forms.MultipleChoiceField(
        choices=CostRecord.ChargeCategory.choices, required=False, label="Charge category"
    )
    provider = forms.MultipleChoiceField(choices=(), required=False, label="Provider")
    # Offered when the window's rows hold several billing currencies: a report is in one, never converted.
    currency = forms.ChoiceField(choices=(), required=False, label="Currency")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["key"].choices = allocation_key_choices()
        self.fields["key"].initial = allocation_key_default()
        for name in FILTERS:
            self.fields[name].widget.attrs.update({"size": 4, "class": "filter-select"})

    def selected(self, name: str) -> list[str]:
        """A filter's chosen values as the request gives them (before validation)."""
        getlist = getattr(self.data, "getlist", None)
        values = getlist(name) if getlist else self.data.get(name) or []
        return [values] if isinstance(values, str) else [value for value in values if value]

    def filter_options_set(self, options: BillingFilterOptions, *, account_names: dict[str, str]) -> None:
        """Offer the accounts, services and regions seen in the window, and keep any chosen value selectable
        (the Reports API accepts a value with no rows: it narrows to nothing)."""
        self.currencies = sorted({*options.currencies, *self.selected("currency")})
        self.fields["currency"].choices = [("", "Choose one"), *((code, code) for code in self.currencies)]
        named = (
            ("service", options.services),
            ("account", options.accounts),
            ("region", options.regions),
            ("provider", options.providers),
        )
        for name, values in named:
            everything = sorted({*values, *self.selected(name)})
            if name == "account":
                choices = [(value, account_label_text(value, account_names)) for value in everything]
                choices.sort(key=lambda choice: choice[1].lower())
            else:
                choices = [(value, value) for value in everything]
            self.fields[name].choices = choices

    def window_bounds(self, *, today: date) -> tuple[date, date]:
        """[start, end) of the window asked for, read before validation (the filter options depend on it);
        the last 30 days when it cannot be read."""
        window = self.data.get("window") or "30d"
        if window == "custom":
            window = f"{self.data.get('start')},{self.data.get('end')}"
        try:
            return window_parse(window, today=today)
        except ValueError:
            return today - timedelta(days=30), today

    @property
    def filters_active(self) -> bool:
        return any(self.selected(name) for name in FILTERS)

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

    def report_filters(self) -> dict[str, list[str]]:
        """The chosen filters as the Reports API takes them ({name: [value, ...]}, repeatable; call after
        is_valid())."""
        filters = {name: list(self.cleaned_data[name]) for name in FILTERS if self.cleaned_data.get(name)}
        if self.cleaned_data.get("currency"):
            filters["currency"] = [self.cleaned_data["currency"]]
        return filters

    @property
    def currency_choice_shown(self) -> bool:
        """Whether to offer the currency control: the window's rows hold several currencies (or one was chosen)."""
        return len(getattr(self, "currencies", ())) > 1


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
