"""The Unit economics page's GET controls."""

from __future__ import annotations

from django import forms

from dashboards.forms.allocation import WINDOW_CHOICES

UNIT_GROUPINGS = {
    "model": ("Model and version", ("tag:model", "tag:model_version")),
    "resource": ("Endpoint (resource)", ("resource",)),
}
UNIT_WINDOWS = [choice for choice in WINDOW_CHOICES if choice[0] != "custom"]


class UnitEconomicsControlsForm(forms.Form):
    """The Unit economics page's GET controls: a relative window and the grouping."""

    window = forms.ChoiceField(choices=UNIT_WINDOWS, initial="30d", required=False)
    group = forms.ChoiceField(
        choices=[(name, label) for name, (label, _) in UNIT_GROUPINGS.items()],
        initial="model",
        required=False,
        label="Group by",
    )

    def clean(self):
        data = super().clean()
        for name in ("window", "group"):
            data[name] = data.get(name) or self.fields[name].initial
        return data

    def report_params(self) -> dict[str, str]:
        """The /api/v1/unit-costs parameters for these controls (call after is_valid())."""
        keys = UNIT_GROUPINGS[self.cleaned_data["group"]][1]
        return {"window": self.cleaned_data["window"], "aggregate": ",".join(keys)}
