"""Budget writes: create, edit and delete budgets; record threshold crossings; the alert specs for them.

A threshold notifies once per period: the first evaluation that finds it reached records a BudgetCrossing
(unique per threshold and period start), and from then on its alert spec (key
`budget:{budget}:{threshold}:{period start}`) is current for the rest of the period, even if a forecast
dips again. It clears, and the alert resolves, when the period ends (the key names the period) or when the
budget is edited (amount, scope, thresholds) so that the spend is under it: editing re-checks the period's
crossings and removes those no longer reached.

Saving a budget (create or update, from the page, the API or anywhere else that calls these services) evaluates it
once the transaction commits: the crossings it reaches are recorded in the same request, so the page and the API
show them at once rather than after the next alert evaluation.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from finops.models import Budget, BudgetCrossing, BudgetThreshold, Team
from finops.selectors.budgets import BudgetStatus, budget_status, budgets_listed

BUDGET_FIELDS = (
    "name", "team", "tag_key", "tag_value", "account_id", "service", "period", "amount", "currency", "cost_basis"
)  # fmt: skip


def _thresholds_set(*, budget: Budget, thresholds: Iterable[dict[str, Any]]) -> None:
    """Make the budget's thresholds exactly `thresholds` ({percent, kind}); unchanged ones keep their id
    (and their crossings), removed ones go with their crossings."""
    wanted = {(Decimal(item["percent"]).quantize(Decimal("0.01")), item.get("kind") or "actual") for item in thresholds}
    existing = {(threshold.percent, threshold.kind): threshold for threshold in budget.thresholds.all()}
    for key, threshold in existing.items():
        if key not in wanted:
            threshold.delete()
    for percent, kind in sorted(wanted - set(existing)):
        BudgetThreshold.objects.create(budget=budget, percent=percent, kind=kind)


@transaction.atomic
def budget_create(
    *,
    name: str,
    amount: Decimal,
    period: str = Budget.Period.MONTH,
    cost_basis: str = Budget.CostBasis.BILLED,
    team: Team | None = None,
    tag_key: str = "",
    tag_value: str = "",
    account_id: str = "",
    service: str = "",
    currency: str = "USD",
    thresholds: Iterable[dict[str, Any]] = (),
    user: AbstractBaseUser | None = None,
) -> Budget:
    budget = Budget(
        name=name, amount=amount, period=period, cost_basis=cost_basis, team=team, tag_key=tag_key,
        tag_value=tag_value, account_id=account_id, service=service, currency=currency, created_by=user,
    )  # fmt: skip
    budget.full_clean()
    budget.save()
    _thresholds_set(budget=budget, thresholds=thresholds)
    _evaluate_on_commit(budget_id=budget.pk)
    return budget


@transaction.atomic
def budget_update(
    *, budget: Budget, thresholds: Iterable[dict[str, Any]] | None = None, now: datetime | None = None, **fields: Any
) -> Budget:
    """Change the given fields (and, when given, the thresholds); crossings of the current period that the
    edited budget no longer reaches are removed, so their alerts resolve."""
    unknown = set(fields) - set(BUDGET_FIELDS)
    if unknown:
        raise TypeError(f"Unknown budget fields: {', '.join(sorted(unknown))}")
    budget = Budget.objects.select_for_update().get(pk=budget.pk)
    for name, value in fields.items():
        setattr(budget, name, value)
    budget.full_clean()
    budget.save()
    if thresholds is not None:
        _thresholds_set(budget=budget, thresholds=thresholds)
    status = budget_status(budget=budget, today=(now or timezone.now()).date())
    stale = [item.crossing.pk for item in status.thresholds if item.crossing is not None and not item.reached]
    BudgetCrossing.objects.filter(pk__in=stale).delete()
    _evaluate_on_commit(budget_id=budget.pk, now=now)
    return budget


def _evaluate_on_commit(*, budget_id: int, now: datetime | None = None) -> None:
    # After the commit: the evaluation reads the saved budget and thresholds, and a failed save records nothing.
    transaction.on_commit(lambda: budget_evaluate(budget_id=budget_id, now=now))


def budget_evaluate(*, budget_id: int, now: datetime | None = None) -> BudgetStatus | None:
    """Evaluate one budget now: record the crossings its current period reaches. None if it was deleted since."""
    budget = budgets_listed().filter(pk=budget_id).first()
    if budget is None:
        return None
    return budget_crossings_record(budget=budget, now=now or timezone.now())


@transaction.atomic
def budget_delete(*, budget: Budget) -> None:
    budget.delete()


def budget_crossings_record(*, budget: Budget, now: datetime) -> BudgetStatus:
    """Record a crossing for each threshold reached in the current period and not yet recorded; the status
    returned lists them."""
    status = budget_status(budget=budget, today=now.date())
    if not any(item.reached and item.crossing is None for item in status.thresholds):
        return status
    with transaction.atomic():
        for item in status.thresholds:
            if item.reached and item.crossing is None:
                BudgetCrossing.objects.get_or_create(
                    threshold=item.threshold,
                    period_start=status.period_start,
                    defaults={
                        "period_end": status.period_end,
                        "crossed_at": now,
                        "spend": item.spend,
                        "method": status.method if item.threshold.kind == BudgetThreshold.Kind.FORECAST else "",
                    },
                )
    return budget_status(budget=budget, today=now.date())


def budget_alert_specs(*, now: datetime) -> dict[str, list]:
    """The current budget alerts for alerts_sync: {"budget_actual": [...], "budget_forecast": [...]}.

    One AlertSpec per threshold crossed in its budget's current period (recording new crossings first).
    """
    from finops.services.alerts import AlertSpec

    specs: dict[str, list] = {"budget_actual": [], "budget_forecast": []}
    for budget in budgets_listed():
        status = budget_crossings_record(budget=budget, now=now)
        for item in status.crossed:
            threshold = item.threshold
            actual = threshold.kind == BudgetThreshold.Kind.ACTUAL
            what = "actual spend" if actual else f"forecast spend ({status.method.replace('_', ' ')})"
            spend = status.actual if actual else status.forecast
            percent = f"{threshold.percent.normalize():f}"
            period = f"{status.period_start:%Y-%m-%d} to {status.period_end:%Y-%m-%d}"
            specs[f"budget_{threshold.kind}"].append(
                AlertSpec(
                    key=f"budget:{budget.pk}:{threshold.pk}:{status.period_start.isoformat()}",
                    title=f"Budget {budget.name}: {what} reached {percent}% of {budget.amount:,.2f} USD",
                    text=(
                        f"{what.capitalize()} for the period {period} (end exclusive) is {spend:,.2f} USD against "
                        f"a budget of {budget.amount:,.2f} USD; the {percent}% threshold is "
                        f"{item.amount:,.2f} USD. Actual so far: {status.actual:,.2f} USD; forecast to period "
                        f"end: {status.forecast:,.2f} USD ({status.method})."
                    ),
                    team=budget.team,
                    severity="critical" if threshold.percent >= 100 else "warning",
                    details={
                        "budget": budget.pk,
                        "threshold": threshold.pk,
                        "percent": f"{threshold.percent:f}",
                        "kind": threshold.kind,
                        "period_start": status.period_start.isoformat(),
                        "period_end": status.period_end.isoformat(),
                        "actual": f"{status.actual:f}",
                        "forecast": f"{status.forecast:f}",
                        "method": status.method,
                        "crossed_at": (item.crossing.crossed_at if item.crossing else now).isoformat(),
                    },
                    amount=spend,
                )
            )
    return specs
