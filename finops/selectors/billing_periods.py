"""Reads of billing periods: the list the API and the Reconciliation page show, and the days still estimated."""

from __future__ import annotations

from datetime import date

from django.db.models import Prefetch, QuerySet

from finops.models import BillingPeriod, BillingRestatement


def billing_period_list() -> QuerySet[BillingPeriod]:
    """Every billing period in the model's order (newest first), each with its restatements (newest first)."""
    return BillingPeriod.objects.prefetch_related(
        Prefetch("restatements", queryset=BillingRestatement.objects.order_by("-detected_at", "-id"))
    )


def billing_restatement_list(*, limit: int = 200) -> list[BillingRestatement]:
    """The latest restatements of final billing periods with their periods: the Reconciliation page's list."""
    return list(BillingRestatement.objects.select_related("period").order_by("-detected_at", "-id")[:limit])


def estimated_day_ranges(*, start: date, end: date) -> list[tuple[date, date]]:
    """The days of [start, end) that an estimated billing period covers, merged into ranges (end exclusive).

    A day counts as estimated when any (source, billing account) still has its billing period estimated on it:
    its figures may change until the invoice is final, whichever accounts or filters a report keeps.
    """
    if start >= end:
        return []
    spans = sorted(
        (max(period_start, start), min(period_end, end))
        for period_start, period_end in BillingPeriod.objects.filter(
            status=BillingPeriod.Status.ESTIMATED, billing_period_start__lt=end, billing_period_end__gt=start
        ).values_list("billing_period_start", "billing_period_end")
    )
    ranges: list[tuple[date, date]] = []
    for span_start, span_end in spans:
        if span_start >= span_end:
            continue
        if ranges and span_start <= ranges[-1][1]:
            ranges[-1] = (ranges[-1][0], max(ranges[-1][1], span_end))
        else:
            ranges.append((span_start, span_end))
    return ranges


Scope = tuple[str, str, date]


def final_period_rules_versions(*, start: date, end: date, current_version: int) -> dict[int, list[Scope]]:
    """{rules version: [(source, billing account, period start), ...]} of the final periods over [start, end) whose
    allocations stay under a rules version other than the current one (the one in force when each became final, or
    the one an operator re-allocated it to)."""
    kept: dict[int, list[Scope]] = {}
    periods = (
        BillingPeriod.objects.filter(
            status=BillingPeriod.Status.FINAL,
            rules_version__isnull=False,
            billing_period_start__lt=end,
            billing_period_end__gt=start,
        )
        .exclude(rules_version=current_version)
        .order_by("rules_version", "source", "billing_account_id", "billing_period_start")
        .values_list("rules_version", "source", "billing_account_id", "billing_period_start")
    )
    for version, source, billing_account_id, period_start in periods:
        kept.setdefault(version, []).append((source, billing_account_id, period_start))
    return kept


def scopes_where(scopes: list[Scope], *, inside: bool) -> tuple[str, list]:
    """An SQL condition on billing rows `r` (for finops.selectors.costs.export_grouped_sql's `where`): the rows of
    these scopes (`inside`), or every other row."""
    if not scopes:
        return ("", []) if not inside else (" AND FALSE", [])
    values = ", ".join(["(%s, %s, %s::date)"] * len(scopes))
    operator = "IN" if inside else "NOT IN"
    sql = f" AND (r.source, r.billing_account_id, r.billing_period_start) {operator} (VALUES {values})"
    return sql, [value for scope in scopes for value in scope]
