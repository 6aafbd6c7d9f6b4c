"""The Capacity plan page's scenario editor: a scenario's name, description and growth multiplier, and its projects as
a formset (one row per project; rows are added in the page and removed with their checkbox).

The forms only carry text: what a scenario may be (a known accelerated type, whole GPUs, a date, a 12-digit account)
is capacity.services.scenarios' question. `scenario_data` turns the bound forms into the body scenario_save takes,
and `scenario_errors_show` puts its errors (`name`, `projects[2].instance_type`) next to the fields they name.
"""

from __future__ import annotations

from django import forms

from capacity.models import CapacityScenario

PROJECT_FIELDS = ("team", "instance_type", "region", "gpus", "start", "months", "account")


class ScenarioForm(forms.Form):
    name = forms.CharField(required=False, max_length=200)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    growth_multiplier = forms.CharField(
        required=False,
        label="Growth multiplier",
        help_text="Every forecast path is multiplied by this: 1 is the base forecast, 1.25 a quarter more demand.",
        widget=forms.TextInput(attrs={"inputmode": "decimal"}),
    )


class ScenarioProjectForm(forms.Form):
    team = forms.CharField(required=False, widget=forms.TextInput(attrs={"list": "plan-teams"}))
    instance_type = forms.CharField(
        required=False, label="Instance type", widget=forms.TextInput(attrs={"list": "plan-instance-types"})
    )
    region = forms.CharField(required=False, widget=forms.TextInput(attrs={"list": "plan-regions"}))
    gpus = forms.CharField(required=False, label="GPUs", widget=forms.TextInput(attrs={"inputmode": "numeric"}))
    start = forms.CharField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    months = forms.CharField(required=False, widget=forms.TextInput(attrs={"inputmode": "numeric"}))
    account = forms.CharField(
        required=False,
        help_text="Optional 12-digit id; blank: where the team runs most GPUs in the region.",
        widget=forms.TextInput(attrs={"list": "plan-accounts", "inputmode": "numeric"}),
    )

    def is_blank(self) -> bool:
        """A row the user left empty (the spare row at the end), which is not a project."""
        return not any((self.cleaned_data.get(name) or "").strip() for name in PROJECT_FIELDS)


ScenarioProjectFormSet = forms.formset_factory(ScenarioProjectForm, extra=1, can_delete=True)


def scenario_forms(data=None, *, scenario: CapacityScenario | None = None) -> tuple[ScenarioForm, object]:
    """The editor's forms: bound to a POST, or filled from a saved scenario, or empty for a new one."""
    if data is not None:
        return ScenarioForm(data), ScenarioProjectFormSet(data, prefix="projects")
    if scenario is None:
        return ScenarioForm(initial={"growth_multiplier": "1"}), ScenarioProjectFormSet(prefix="projects")
    initial = {
        "name": scenario.name,
        "description": scenario.description,
        "growth_multiplier": f"{scenario.growth_multiplier.normalize():f}",
    }
    projects = [
        {
            "team": project.team,
            "instance_type": project.instance_type,
            "region": project.region,
            "gpus": str(project.gpus),
            "start": project.start.isoformat(),
            "months": str(project.months),
            "account": project.account,
        }
        for project in scenario.projects.all()
    ]
    return ScenarioForm(initial=initial), ScenarioProjectFormSet(initial=projects, prefix="projects")


def scenario_data(form: ScenarioForm, formset) -> tuple[dict, list]:
    """The body for scenario_save from valid forms, and the project forms in the order of its `projects` list (so
    that `projects[i]` in an error names the form it came from)."""
    data = {
        "name": form.cleaned_data["name"],
        "description": form.cleaned_data["description"],
        "growth_multiplier": form.cleaned_data["growth_multiplier"].strip() or "1",
    }
    kept = [project for project in formset.forms if not project.cleaned_data.get("DELETE") and not project.is_blank()]
    data["projects"] = [
        {name: (project.cleaned_data.get(name) or "").strip() for name in PROJECT_FIELDS} for project in kept
    ]
    return data, kept


def scenario_errors_show(errors: dict[str, list[str]], form: ScenarioForm, projects: list) -> None:
    """Put scenario_save's errors on the fields they name; what names no field goes to the form as a whole."""
    for name, messages in errors.items():
        target, field = form, name
        if name.startswith("projects[") and "]" in name:
            index_text, _, field = name.removeprefix("projects[").partition("]")
            field = field.removeprefix(".")
            if index_text.isdigit() and int(index_text) < len(projects):
                target = projects[int(index_text)]
        if field not in target.fields:
            target, field = form, None
            messages = [f"{name}: {message}" for message in messages]
        for message in messages:
            target.add_error(field, message)
