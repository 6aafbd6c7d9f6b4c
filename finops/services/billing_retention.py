"""Billing data retention: months of CostRecord older than COSTPLANE_BILLING_RETENTION_MONTHS are detached and dropped.

Each month is a partition (finops.partitions), so removing one is a DETACH and a DROP, whatever its size, instead of
a DELETE of millions of rows. The setting counts whole months before the current one: 12 keeps the current month and
the twelve before it. 0 (the default) keeps everything. The files' own daily totals of a dropped month
(ExportDailyTotal, which reconciliation compares against stored rows) and its daily rollup go with it; billing
periods, restatements and Cost Explorer's figures stay as the history of what was billed.
"""

from __future__ import annotations

import logging
from datetime import date

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from finops import partitions
from finops.models import CostDailyRollup, CostTagRollup, ExportDailyTotal
from finops.signals import billing_months_dropped

logger = logging.getLogger(__name__)


def retention_cutoff(today: date, months: int) -> date:
    """The first day of the oldest month kept."""
    index = today.year * 12 + today.month - 1 - months
    return date(index // 12, index % 12 + 1, 1)


def billing_retention_apply(*, today: date | None = None, months: int | None = None) -> list[date]:
    """Detach and drop the partitions of months older than the retention; returns the months dropped."""
    months = settings.COSTPLANE_BILLING_RETENTION_MONTHS if months is None else months
    if not months:
        return []
    cutoff = retention_cutoff(today or timezone.now().date(), months)
    with transaction.atomic(), connection.cursor() as cursor:
        # DETACH takes the parent's ACCESS EXCLUSIVE lock for a moment: behind a long import, give up and retry
        # tomorrow rather than queue every report behind this.
        cursor.execute("SET LOCAL lock_timeout = '10s'")
        dropped = [month for month, _ in partitions.partitions_older_than(cursor, cutoff)]
        for month in dropped:
            partitions.partition_drop(cursor, month)
        totals, _ = ExportDailyTotal.objects.filter(billing_period_start__lt=cutoff).delete()
        CostDailyRollup.objects.filter(billing_period_start__lt=cutoff).delete()
        CostTagRollup.objects.filter(billing_period_start__lt=cutoff).delete()
        billing_months_dropped.send(sender=None, cursor=cursor, before=cutoff)
    if dropped:
        logger.info(
            "billing retention: dropped %d month(s) before %s (%s) and %d daily file totals",
            len(dropped), cutoff, ", ".join(f"{month:%Y-%m}" for month in dropped), totals,
        )  # fmt: skip
    return dropped
