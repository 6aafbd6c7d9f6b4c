"""Reconciliation: per account and day, Cost Explorer's total against the export's and the stored rows'.

Cost Explorer's UnblendedCost (the `account_service` view) is compared with each export format's
BilledCost for the same account-day; the export total recorded at import time is compared with
what CostRecord holds now. Only account-days that both Cost Explorer and an export cover can
disagree with Cost Explorer; a day without export data is read from Cost Explorer and is no mismatch.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal

from django.db import connection

from finops.models import CloudAccount, CostExplorerRecord, CostRecord, ExportDailyTotal


@dataclass(frozen=True)
class ReconciliationRow:
    account_id: str
    day: date
    source: str
    cost_explorer: Decimal | None
    export: Decimal
    stored: Decimal

    @property
    def cost_explorer_difference(self) -> Decimal | None:
        return None if self.cost_explorer is None else self.export - self.cost_explorer

    @property
    def stored_difference(self) -> Decimal:
        return self.stored - self.export

    @property
    def mismatch(self) -> bool:
        return bool(self.cost_explorer_difference) or bool(self.stored_difference)


def reconciliation_rows(
    *, start: date, end: date, account_id: str | None = None, mismatches_only: bool = False
) -> list[ReconciliationRow]:
    account_filter = " AND e.sub_account_id = %s" if account_id else ""
    params: list = [start, end]
    start_ts, end_ts = (datetime.combine(day, time.min, tzinfo=UTC) for day in (start, end))
    sql = f"""
        WITH exported AS (
            SELECT e.source, e.sub_account_id, e.day, SUM(e.billed_cost) AS billed
            FROM {ExportDailyTotal._meta.db_table} e
            WHERE e.day >= %s AND e.day < %s{account_filter}
            GROUP BY e.source, e.sub_account_id, e.day
        ),
        stored AS (
            SELECT r.source, r.sub_account_id, (r.charge_period_start AT TIME ZONE 'UTC')::date AS day,
                   SUM(r.billed_cost) AS billed
            FROM {CostRecord._meta.db_table} r
            WHERE r.charge_period_start >= %s AND r.charge_period_start < %s
            GROUP BY 1, 2, 3
        ),
        explorer AS (
            SELECT c.linked_account_id, c.day, SUM(c.unblended_cost) AS billed
            FROM {CostExplorerRecord._meta.db_table} c
            JOIN {CloudAccount._meta.db_table} a ON a.id = c.account_id AND a.payer_id IS NULL
            WHERE c.view = %s AND c.day >= %s AND c.day < %s
            GROUP BY 1, 2
        )
        SELECT e.sub_account_id, e.day, e.source, x.billed, e.billed, COALESCE(s.billed, 0)
        FROM exported e
        LEFT JOIN stored s ON s.source = e.source AND s.sub_account_id = e.sub_account_id AND s.day = e.day
        LEFT JOIN explorer x ON x.linked_account_id = e.sub_account_id AND x.day = e.day
        ORDER BY e.day, e.sub_account_id, e.source
    """
    if account_id:
        params.append(account_id)
    params += [start_ts, end_ts, CostExplorerRecord.ACCOUNT_SERVICE_VIEW, start, end]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = [ReconciliationRow(*record) for record in cursor.fetchall()]
    return [row for row in rows if row.mismatch] if mismatches_only else rows
