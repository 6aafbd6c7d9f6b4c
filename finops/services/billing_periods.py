"""Billing periods: estimated until their source says final, restatements of final ones recorded and alerted once.

ARCHITECTURE.md, "Currencies and billing periods". `billing_periods_record` runs at the end of every billing import,
in its transaction, for each (source, billing account, billing period) the import touched:
- the period's total (Σ billed cost, exact), line count, currency and invoice ids are read from the stored rows;
- an estimated period becomes final with reason `invoice` as soon as any of its rows has an invoice id (CUR
  bill_invoice_id, FOCUS 1.2 InvoiceId); one whose last delivery had no invoice id column (FOCUS before 1.2)
  becomes final with reason `age` once COSTPLANE_BILLING_FINAL_AFTER_DAYS whole days have passed since the period
  ended (BillingPeriodEnd, exclusive). Age is checked here and once a day by `billing_periods_finalise_by_age`
  (beat `billing-periods-final-by-age`), so a period nobody re-delivers still becomes final;
- a period becoming final records the allocation rules version in force (its allocations stay computed under it,
  see capacity/selectors/reports.py, until an operator re-allocates it: `billing_period_reallocate`); none while no
  rules were ever published, so that the first rules apply to the history an installation imports;
- a delivery that deletes or inserts lines of a period already final is a restatement: a BillingRestatement
  (totals before and after, lines added and removed), and an alert (kind `billing_restatement`, key
  `restatement:<id>`) opened once the import commits, through the alert channels. The alert stays open until a
  person acknowledges it, then resolves on the next evaluation and never reopens.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Max, Sum
from django.utils import timezone

from finops.models import (
    Alert,
    AllocationRulesVersion,
    BillingPeriod,
    BillingPeriodReallocation,
    BillingRestatement,
    CostRecord,
    IngestionRun,
)
from finops.reports import money_text
from finops.selectors.allocation_rules import allocation_rules_current
from finops.services.alerts import AlertSpec, alerts_sync

logger = logging.getLogger(__name__)

Scope = tuple[str, str, date]


def _final_by_age_due(period: BillingPeriod, *, today: date) -> bool:
    return period.final_by_age and today >= period.billing_period_end + timedelta(
        days=settings.COSTPLANE_BILLING_FINAL_AFTER_DAYS
    )


def _finalise(period: BillingPeriod, *, reason: str, now: datetime) -> None:
    period.status, period.final_reason, period.finalised_at = BillingPeriod.Status.FINAL, reason, now
    # Before any rules are published (version 0) there is nothing to keep: the first rules apply to the history an
    # installation imported (null: follows the current rules); from then on finality keeps the version in force.
    period.rules_version = allocation_rules_current()[0] or None


def _scope_figures(scope: Scope) -> dict:
    source, billing_account_id, period_start = scope
    rows = CostRecord.objects.filter(
        source=source, billing_account_id=billing_account_id, billing_period_start=period_start
    ).order_by()
    figures = rows.aggregate(total=Sum("billed_cost"), lines=Count("id"), end=Max("billing_period_end"))
    currencies = sorted(set(rows.values_list("billing_currency", flat=True).distinct()))
    invoice_ids = sorted(
        set(
            rows.filter(invoice_id__isnull=False).exclude(invoice_id="").values_list("invoice_id", flat=True).distinct()
        )
    )
    return {**figures, "currencies": currencies, "invoice_ids": invoice_ids}


def billing_periods_record(
    *,
    scopes: Iterable[Scope],
    merged: dict[Scope, tuple[int, int]],
    scopes_without_invoice_column: set[Scope],
    run: IngestionRun | None = None,
    now: datetime | None = None,
) -> list[BillingRestatement]:
    """Bring each touched scope's BillingPeriod up to date with its stored rows (call inside the import's
    transaction, after the merge). `merged`: the lines each already-stored scope lost and gained; a new scope's lines
    are all new. Returns the restatements recorded; their alerts open once the transaction commits."""
    now = now or timezone.now()
    today = now.date()
    restatements: list[BillingRestatement] = []
    for scope in sorted(set(scopes)):
        source, billing_account_id, period_start = scope
        figures = _scope_figures(scope)
        if not figures["lines"]:
            continue
        period = (
            BillingPeriod.objects.select_for_update()
            .filter(source=source, billing_account_id=billing_account_id, billing_period_start=period_start)
            .first()
        )
        created = period is None
        if created:
            period = BillingPeriod(
                source=source, billing_account_id=billing_account_id, billing_period_start=period_start
            )
        total_before = period.total
        was_final = period.status == BillingPeriod.Status.FINAL
        currencies = figures["currencies"]
        period.billing_period_end = figures["end"]
        period.currency = ",".join(currencies)
        period.total = figures["total"] if len(currencies) <= 1 else None
        period.lines = figures["lines"]
        period.invoice_ids = figures["invoice_ids"]
        period.final_by_age = scope in scopes_without_invoice_column and not figures["invoice_ids"]
        if not was_final:
            if figures["invoice_ids"]:
                _finalise(period, reason=BillingPeriod.FinalReason.INVOICE, now=now)
            elif _final_by_age_due(period, today=today):
                _finalise(period, reason=BillingPeriod.FinalReason.AGE, now=now)
        period.save()
        deleted, inserted = (0, figures["lines"]) if created else merged.get(scope, (0, 0))
        if was_final and (deleted or inserted):
            restatements.append(
                BillingRestatement.objects.create(
                    period=period,
                    run=run,
                    detected_at=now,
                    total_before=total_before,
                    total_after=period.total,
                    lines_added=inserted,
                    lines_removed=deleted,
                )
            )
            logger.warning("Billing period %s restated: %s → %s", period, total_before, period.total)
    if restatements:
        transaction.on_commit(lambda: billing_restatement_alerts_sync(now=now))
    return restatements


@transaction.atomic
def billing_periods_finalise_by_age(*, now: datetime | None = None) -> list[BillingPeriod]:
    """Mark final (reason `age`) the estimated periods without invoice ids whose end is old enough."""
    now = now or timezone.now()
    cutoff = now.date() - timedelta(days=settings.COSTPLANE_BILLING_FINAL_AFTER_DAYS)
    periods = list(
        BillingPeriod.objects.select_for_update().filter(
            status=BillingPeriod.Status.ESTIMATED, final_by_age=True, billing_period_end__lte=cutoff
        )
    )
    for period in periods:
        _finalise(period, reason=BillingPeriod.FinalReason.AGE, now=now)
        period.save(update_fields=["status", "final_reason", "finalised_at", "rules_version", "updated_at"])
    return periods


class ReallocationError(ValueError):
    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("; ".join(message for messages in errors.values() for message in messages))
        self.errors = errors


@transaction.atomic
def billing_period_reallocate(
    *, period: BillingPeriod, user, rules_version: int | None = None, comment: str = ""
) -> BillingPeriodReallocation:
    """Allocate a final period under another rules version from now on (default: the current one), audited."""
    period = BillingPeriod.objects.select_for_update().get(pk=period.pk)
    if period.status != BillingPeriod.Status.FINAL:
        raise ReallocationError(
            {"billing_period_start": ["This period is still estimated: it is allocated under the current rules."]}
        )
    if rules_version is None:
        rules_version = allocation_rules_current()[0]
    elif rules_version != 0 and not AllocationRulesVersion.objects.filter(number=rules_version).exists():
        raise ReallocationError({"rules_version": [f"No allocation rules version {rules_version} was published."]})
    entry = BillingPeriodReallocation.objects.create(
        period=period,
        rules_version_before=period.rules_version,
        rules_version_after=rules_version,
        comment=comment,
        created_by=user if getattr(user, "is_authenticated", False) else None,
    )
    period.rules_version = rules_version
    period.save(update_fields=["rules_version", "updated_at"])
    return entry


# --- Alert source ---------------------------------------------------------------------------------------


def restatement_alert_key(restatement_id: int) -> str:
    return f"restatement:{restatement_id}"


def _plain(value: Decimal | None) -> str:
    """20.00000000000000000000 as 20, 18.25000000000000000010 as 18.2500000000000000001: what people read."""
    return "?" if value is None else format(value.normalize(), "f")


def billing_restatement_alert_specs(*, now: datetime | None = None) -> list[AlertSpec]:
    """One alert per restatement nobody has acknowledged yet."""
    acknowledged = set(
        Alert.objects.filter(kind=Alert.Kind.BILLING_RESTATEMENT, acknowledged_at__isnull=False).values_list(
            "key", flat=True
        )
    )
    specs = []
    for restatement in BillingRestatement.objects.select_related("period").order_by("id"):
        key = restatement_alert_key(restatement.pk)
        if key in acknowledged:
            continue
        period = restatement.period
        before, after = _plain(restatement.total_before), _plain(restatement.total_after)
        difference = restatement.difference
        specs.append(
            AlertSpec(
                key=key,
                title=(
                    f"Final billing period restated: {period.get_source_display()} {period.billing_account_id}, "
                    f"{period.billing_period_start:%B %Y}"
                )[:255],
                text=(
                    f"A new delivery changed a final billing period: total {before} → {after} {period.currency}, "
                    f"{restatement.lines_added} line(s) added and {restatement.lines_removed} removed. "
                    "The Reconciliation page lists every restatement."
                ),
                details={
                    "restatement_id": restatement.pk,
                    "source": period.source,
                    "billing_account_id": period.billing_account_id,
                    "billing_period_start": period.billing_period_start.isoformat(),
                    "total_before": None if restatement.total_before is None else money_text(restatement.total_before),
                    "total_after": None if restatement.total_after is None else money_text(restatement.total_after),
                    "lines_added": restatement.lines_added,
                    "lines_removed": restatement.lines_removed,
                    "currency": period.currency,
                },
                amount=None if difference is None else abs(difference),
            )
        )
    return specs


def billing_restatement_alerts_sync(*, now: datetime | None = None) -> dict[str, list[int]]:
    """Open (and notify) the alerts of new restatements; resolve acknowledged ones."""
    now = now or timezone.now()
    return alerts_sync(kind=Alert.Kind.BILLING_RESTATEMENT, current=billing_restatement_alert_specs(now=now), now=now)
