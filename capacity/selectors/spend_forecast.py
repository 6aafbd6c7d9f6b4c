"""Spend forecast reads: the daily effective cost it is computed from, and the newest stored forecast.

The history comes from the report readers, never from billing rows summed here: the total is /api/v1/costs' total
(finops.selectors.costs.cost_rows: export data where an account-day has it, Cost Explorer elsewhere), the teams are
/api/v1/allocations' `tag:<COSTPLANE_TEAM_TAG_KEY>` items (capacity.selectors.reports.allocation_report: tag rules
and shared-cost rules applied, untagged spend as `__unallocated__`; export data only, like every tag report). A tag
value that a Team claims (Team.tag_values) counts as that team (its slug); other values stay as they are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from django.conf import settings

from capacity.models import SpendForecast
from capacity.selectors.reports import allocation_report
from finops.models import CloudAccount, CostRecord, Team
from finops.reports import MONEY_CONTEXT, ReportQuery, currencies_error
from finops.selectors.costs import cost_rows

TOTAL_KEY = ""  # SpendForecast.key of the total


@dataclass(frozen=True)
class SpendHistory:
    """One currency's daily effective cost: the total, and each team's (Decimal by day; days without cost absent)."""

    currency: str
    total: dict[date, Decimal]
    teams: dict[str, dict[date, Decimal]] = field(default_factory=dict)


def team_by_tag_value() -> dict[str, str]:
    return {value: team.slug for team in Team.objects.all() for value in team.tag_values}


def spend_daily_history(*, start: date, end: date) -> list[SpendHistory]:
    """Daily effective cost in [start, end) per billing currency (amounts in two currencies are never added)."""
    totals: dict[str, dict[date, Decimal]] = {}
    for row in cost_rows(query=ReportQuery(start=start, end=end, cost_basis="effective", step="day")):
        days = totals.setdefault(row.currency, {})
        days[row.period] = MONEY_CONTEXT.add(days.get(row.period, Decimal(0)), row.cost)
    team_key = f"tag:{settings.COSTPLANE_TEAM_TAG_KEY}"
    owners = team_by_tag_value()
    histories = []
    for currency in sorted(totals):
        report = allocation_report(
            params={
                "window": [f"{start.isoformat()},{end.isoformat()}"],
                "aggregate": [team_key],
                "cost_basis": ["effective"],
                "step": ["day"],
                "currency": [currency],
            },
            today=end,
        )
        teams: dict[str, dict[date, Decimal]] = {}
        for record in report.items.to_dict("records"):
            value = record[team_key]
            days = teams.setdefault(owners.get(value, value), {})
            day = record["period"]
            days[day] = MONEY_CONTEXT.add(days.get(day, Decimal(0)), record["cost"])
        histories.append(SpendHistory(currency=currency, total=totals[currency], teams=teams))
    return histories


@dataclass(frozen=True)
class StoredSpendForecasts:
    """The newest run's rows in one currency (the total first, then the teams by key); `generated_at` None: no run."""

    generated_at: datetime | None
    currency: str | None
    rows: list[SpendForecast]

    @property
    def total(self) -> SpendForecast | None:
        return next((row for row in self.rows if row.key == TOTAL_KEY), None)

    @property
    def teams(self) -> list[SpendForecast]:
        return [row for row in self.rows if row.key != TOTAL_KEY]


def spend_forecasts_latest(*, currency: str | None = None) -> StoredSpendForecasts:
    """The newest stored run (spend_forecasts_refresh). Without `currency`, a run holding several currencies is
    finops.reports' currency error (400 naming `currency`), as the reports answer; with it, that currency's rows."""
    newest = SpendForecast.objects.order_by("-generated_at").values_list("generated_at", flat=True).first()
    if newest is None:
        return StoredSpendForecasts(generated_at=None, currency=currency, rows=[])
    rows = list(SpendForecast.objects.filter(generated_at=newest).order_by("currency", "key"))
    currencies = {row.currency for row in rows}
    if currency is None:
        if len(currencies) > 1:
            raise currencies_error(currencies)
        currency = currencies.pop()
    return StoredSpendForecasts(
        generated_at=newest, currency=currency, rows=[row for row in rows if row.currency == currency]
    )


def management_accounts(*, since: date) -> list[CloudAccount]:
    """The accounts whose Cost Explorer sees the organisation's spend: Cost Explorer enabled, no payer in Costplane,
    and either the payer of other accounts or a billing account of the export lines since `since`. With none such,
    every account with Cost Explorer enabled and no payer (a lone account is its own management account)."""
    candidates = list(
        CloudAccount.objects.filter(cost_explorer_enabled=True, payer__isnull=True).order_by("account_id")
    )
    billing = set(
        CostRecord.objects.filter(billing_period_start__gte=since.replace(day=1))
        .values_list("billing_account_id", flat=True)
        .distinct()
    )
    payers = set(CloudAccount.objects.filter(payer__isnull=False).values_list("payer_id", flat=True))
    chosen = [account for account in candidates if account.pk in payers or account.account_id in billing]
    return chosen or candidates
