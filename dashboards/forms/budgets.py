"""The Budgets page's form for operators: a new budget and its thresholds."""

from __future__ import annotations

import re
from decimal import Decimal

from django import forms

from finops.models import Budget
from finops.models.accounts import account_id_validator
from finops.selectors.teams import teams_listed

MAX_PERCENT = Decimal(100000)  # BudgetThreshold.percent holds 5 digits before the point
_THRESHOLD = re.compile(r"^(?P<percent>\d+(?:\.\d{1,2})?)\s*%?\s*(?P<kind>actual|forecast)?$", re.IGNORECASE)


class BudgetForm(forms.Form):
    name = forms.CharField(max_length=200)
    amount = forms.DecimalField(max_digits=38, decimal_places=2, min_value=Decimal("0.01"), label="Amount (USD)")
    period = forms.ChoiceField(choices=Budget.Period.choices)
    cost_basis = forms.ChoiceField(choices=Budget.CostBasis.choices, label="Cost basis")
    team = forms.ModelChoiceField(teams_listed(), required=False, to_field_name="slug", empty_label="Any")
    tag = forms.CharField(required=False, max_length=385, label="Tag", help_text="KEY=VALUE, e.g. environment=prod")
    account_id = forms.CharField(required=False, max_length=12, validators=[account_id_validator], label="Account id")
    service = forms.CharField(required=False, max_length=200, help_text="As billed, e.g. Amazon SageMaker")
    thresholds = forms.CharField(
        required=False, initial="80% actual, 100% forecast",
        help_text="Comma-separated: a percent, then actual or forecast (default actual)",
    )  # fmt: skip

    def clean_tag(self) -> tuple[str, str]:
        value = self.cleaned_data["tag"].strip()
        if not value:
            return "", ""
        key, separator, tag_value = value.partition("=")
        if not separator or not key.strip() or not tag_value.strip():
            raise forms.ValidationError("Write the tag as KEY=VALUE.")
        return key.strip(), tag_value.strip()

    def clean_thresholds(self) -> list[dict]:
        thresholds, seen = [], set()
        for part in self.cleaned_data["thresholds"].split(","):
            if not part.strip():
                continue
            match = _THRESHOLD.match(part.strip())
            if not match or not 0 < Decimal(match["percent"]) < MAX_PERCENT:
                raise forms.ValidationError(f"'{part.strip()}' is not a threshold: write e.g. 80% actual.")
            item = {"percent": Decimal(match["percent"]), "kind": (match["kind"] or "actual").lower()}
            if (item["percent"], item["kind"]) in seen:
                raise forms.ValidationError(f"'{part.strip()}' is given twice.")
            seen.add((item["percent"], item["kind"]))
            thresholds.append(item)
        return thresholds
