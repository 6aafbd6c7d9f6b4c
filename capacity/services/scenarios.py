"""Writes of what-if scenarios: a growth multiplier and planned projects, checked field by field.

Errors name the field as a client wrote it: `growth_multiplier`, `projects[2].instance_type`. A project's type must be
an accelerated instance type Costplane knows (InstanceTypeInfo; ml.* reads as its EC2 twin), so that its GPUs turn
into instances. Saving replaces a scenario's projects when `projects` is given (PUT, or PATCH with projects).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation

from django.db import transaction

from capacity.models import CapacityScenario, InstanceTypeInfo, ScenarioProject

MAX_MONTHS = 120
MAX_MULTIPLIER = Decimal(1000)
PROJECT_FIELDS = ("team", "instance_type", "region", "gpus", "start", "months", "account")


class ScenarioInputError(ValueError):
    def __init__(self, errors: dict[str, list[str]]):
        super().__init__("; ".join(f"{name}: {' '.join(messages)}" for name, messages in errors.items()))
        self.errors = errors


def _positive_int(value, *, maximum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError("must be a whole number")
    number = int(value) if isinstance(value, int) or value.strip().isdigit() else None
    if number is None or number < 1:
        raise ValueError("must be a whole number of at least 1")
    if maximum is not None and number > maximum:
        raise ValueError(f"must be at most {maximum}")
    return number


def _project(raw, index: int, errors: dict[str, list[str]]) -> ScenarioProject | None:
    name = f"projects[{index}]"
    if not isinstance(raw, dict):
        errors[name] = ["must be an object with team, instance_type, region, gpus, start and months"]
        return None
    unknown = sorted(set(raw) - set(PROJECT_FIELDS) - {"id"})
    for field in unknown:
        errors[f"{name}.{field}"] = ["is not a project field"]
    values: dict = {}
    for field in ("team", "instance_type", "region"):
        value = raw.get(field)
        if not isinstance(value, str) or not value.strip():
            errors[f"{name}.{field}"] = ["is required (a non-empty string)"]
        else:
            values[field] = value.strip()
    if "instance_type" in values:
        info = InstanceTypeInfo.objects.filter(instance_type=values["instance_type"].removeprefix("ml.")).first()
        if info is None or info.gpu_count == 0:
            errors[f"{name}.instance_type"] = [
                f"{values['instance_type']!r} is no accelerated instance type Costplane knows "
                "(see /api/v1/instance-types)"
            ]
    for field, maximum in (("gpus", None), ("months", MAX_MONTHS)):
        try:
            values[field] = _positive_int(raw.get(field), maximum=maximum)
        except ValueError as error:
            errors[f"{name}.{field}"] = [str(error)]
    try:
        values["start"] = date.fromisoformat(raw.get("start")) if isinstance(raw.get("start"), str) else None
    except ValueError:
        values["start"] = None
    if values["start"] is None:
        errors[f"{name}.start"] = ["must be a date, YYYY-MM-DD"]
    account = raw.get("account") or ""
    if not isinstance(account, str) or (account and not (account.isdigit() and len(account) == 12)):
        errors[f"{name}.account"] = ["must be a 12-digit account id, or left out"]
    values["account"] = account if isinstance(account, str) else ""
    if any(key.startswith(name) for key in errors):
        return None
    return ScenarioProject(**values)


def _multiplier(value) -> Decimal:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError) as error:
        raise ValueError("must be a number") from error
    if not number.is_finite() or number <= 0 or number > MAX_MULTIPLIER:
        raise ValueError(f"must be above 0 and at most {MAX_MULTIPLIER}")
    if number != number.quantize(Decimal("0.0001")):
        raise ValueError("takes at most 4 decimal places")
    return number


@transaction.atomic
def scenario_save(*, data, partial: bool, scenario: CapacityScenario | None = None, user=None) -> CapacityScenario:
    """Create (scenario None) or update a scenario from an API or form body; ScenarioInputError names bad fields."""
    if not isinstance(data, dict):
        raise ScenarioInputError({"detail": ["The body must be a JSON object."]})
    errors: dict[str, list[str]] = {}
    allowed = {"name", "description", "growth_multiplier", "projects", "id", "created_at", "updated_at"}
    for field in sorted(set(data) - allowed):
        errors[field] = ["is not a scenario field"]
    fields: dict = {}
    if "name" in data or not partial:
        name = data.get("name")
        if not isinstance(name, str) or not name.strip():
            errors["name"] = ["is required (a non-empty string)"]
        elif CapacityScenario.objects.filter(name=name.strip()).exclude(pk=getattr(scenario, "pk", None)).exists():
            errors["name"] = [f"a scenario named {name.strip()!r} exists"]
        else:
            fields["name"] = name.strip()
    if "description" in data:
        if not isinstance(data["description"], str):
            errors["description"] = ["must be a string"]
        else:
            fields["description"] = data["description"]
    if "growth_multiplier" in data:
        try:
            fields["growth_multiplier"] = _multiplier(data["growth_multiplier"])
        except ValueError as error:
            errors["growth_multiplier"] = [str(error)]
    projects = None
    if "projects" in data or not partial:
        raw = data.get("projects", [])
        if not isinstance(raw, list):
            errors["projects"] = ["must be a list of projects"]
        else:
            projects = [_project(item, index, errors) for index, item in enumerate(raw)]
    if errors:
        raise ScenarioInputError(errors)
    if scenario is None:
        scenario = CapacityScenario.objects.create(created_by=user if getattr(user, "pk", None) else None, **fields)
    else:
        for field, value in fields.items():
            setattr(scenario, field, value)
        scenario.save()
    if projects is not None:
        scenario.projects.all().delete()
        for project in projects:
            project.scenario = scenario
        ScenarioProject.objects.bulk_create(projects)
    return scenario
