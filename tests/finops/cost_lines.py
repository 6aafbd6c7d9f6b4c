"""Stored spend for budget and anomaly tests: FOCUS export lines (with their account-day totals, as an import
writes them) and Cost Explorer cells, written straight to the tables the Reports API reads."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from finops.models import CloudAccount, CostExplorerRecord, CostRecord, ExportDailyTotal

PAYER = "111111111111"
ACCOUNT = "222222222222"


def export_lines(lines: list[dict]) -> None:
    """Each line: day, cost; optional account, service, usage_type, resource, tags, category, effective."""
    totals: dict[tuple[str, date], list[Decimal]] = {}
    records = []
    for index, line in enumerate(lines):
        day, cost = line["day"], Decimal(str(line["cost"]))
        effective = Decimal(str(line.get("effective", cost)))
        account = line.get("account", ACCOUNT)
        period = day.replace(day=1)
        start = datetime.combine(day, time.min, tzinfo=UTC)
        records.append(
            CostRecord(
                source="focus",
                line_key=hashlib.sha1(f"{index}:{line}".encode()).hexdigest(),
                billing_account_id=PAYER,
                sub_account_id=account,
                billing_period_start=period,
                billing_period_end=(period + timedelta(days=32)).replace(day=1),
                charge_period_start=start,
                charge_period_end=start + timedelta(days=1),
                charge_category=line.get("category", "usage"),
                service_name=line.get("service", "Amazon SageMaker"),
                region_id="us-east-1",
                resource_id=line.get("resource", ""),
                usage_type=line.get("usage_type", ""),
                billed_cost=cost,
                effective_cost=effective,
                tags=line.get("tags", {}),
            )
        )
        totals.setdefault((account, day), []).append(cost)
    CostRecord.objects.bulk_create(records)
    for (account, day), costs in totals.items():
        total = ExportDailyTotal.objects.filter(source="focus", sub_account_id=account, day=day).first()
        if total is None:
            ExportDailyTotal.objects.create(
                source="focus", billing_account_id=PAYER, billing_period_start=day.replace(day=1),
                sub_account_id=account, day=day, billed_cost=sum(costs), effective_cost=sum(costs),
            )  # fmt: skip
        else:
            total.billed_cost += sum(costs)
            total.effective_cost += sum(costs)
            total.save()


def cost_explorer_cells(cells: list[dict]) -> None:
    """Each cell: day, cost; optional account (linked), service. Stored under the payer's account_service view."""
    payer, _ = CloudAccount.objects.get_or_create(account_id=PAYER, defaults={"name": "payer"})
    CostExplorerRecord.objects.bulk_create(
        CostExplorerRecord(
            account=payer,
            view=CostExplorerRecord.ACCOUNT_SERVICE_VIEW,
            day=cell["day"],
            linked_account_id=cell.get("account", ACCOUNT),
            service_name=cell.get("service", "Amazon SageMaker"),
            unblended_cost=Decimal(str(cell["cost"])),
            amortized_cost=Decimal(str(cell["cost"])),
            net_amortized_cost=Decimal(str(cell.get("effective", cell["cost"]))),
            usage_quantity=Decimal(1),
        )
        for cell in cells
    )
