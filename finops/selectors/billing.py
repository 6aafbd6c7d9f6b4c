"""Reads about the stored billing rows themselves rather than their sums (those are finops/selectors/costs.py's)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from finops.models import CostExplorerRecord, CostRecord


def billing_rows_exist() -> bool:
    """Whether any billing export row is stored: the report pages explain how to load data until one is."""
    return CostRecord.objects.exists()


@dataclass(frozen=True)
class BillingFilterOptions:
    """The values a report's filters can take over a window: sub-account ids, service names, regions, providers
    and billing currencies (a page offers a currency choice when there are several: amounts are never converted)."""

    accounts: tuple[str, ...]
    services: tuple[str, ...]
    regions: tuple[str, ...]
    providers: tuple[str, ...] = ()
    currencies: tuple[str, ...] = ()


def billing_filter_options(*, start: date, end: date) -> BillingFilterOptions:
    """Accounts, services and regions seen in [start, end): in billing rows, and in Cost Explorer's account-service
    view for account-days without export data (no region there). The pages' filter controls offer these."""
    lower = datetime.combine(start, time.min, tzinfo=UTC)
    upper = datetime.combine(end, time.min, tzinfo=UTC)
    triples = (
        CostRecord.objects.filter(charge_period_start__gte=lower, charge_period_start__lt=upper)
        .values_list("sub_account_id", "service_name", "region_id", "provider_name", "billing_currency")
        .order_by()  # Meta.ordering's columns would join the DISTINCT and make every row distinct
        .distinct()
    )
    pairs = (
        CostExplorerRecord.objects.filter(view=CostExplorerRecord.ACCOUNT_SERVICE_VIEW, day__gte=start, day__lt=end)
        .values_list("linked_account_id", "service_name", "currency")
        .order_by()
        .distinct()
    )
    accounts, services, regions, providers, currencies = set(), set(), set(), set(), set()
    for account, service, region, provider, currency in triples:
        accounts.add(account)
        services.add(service)
        regions.add(region)
        providers.add(provider)
        currencies.add(currency)
    for account, service, currency in pairs:
        accounts.add(account)
        services.add(service)
        providers.add("AWS")
        currencies.add(currency)
    return BillingFilterOptions(
        accounts=tuple(sorted(value for value in accounts if value)),
        services=tuple(sorted(value for value in services if value)),
        regions=tuple(sorted(value for value in regions if value)),
        providers=tuple(sorted(value for value in providers if value)),
        currencies=tuple(sorted(value for value in currencies if value)),
    )
