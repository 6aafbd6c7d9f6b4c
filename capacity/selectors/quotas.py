"""Capacity reads of service quotas: those near their limit, and all by share in use."""

from __future__ import annotations

from decimal import Decimal

from django.db.models import Case, DecimalField, F, Q, QuerySet, Value, When

from capacity.models import ServiceQuota


def quotas_near_limit(*, share: Decimal = Decimal("0.8")) -> QuerySet[ServiceQuota]:
    """Quotas whose counted usage is at least `share` of their value (quotas with value 0 and usage above it too)."""
    quotas = ServiceQuota.objects.filter(usage__isnull=False).select_related("account")
    return quotas.filter(Q(value=0, usage__gt=0) | Q(value__gt=0, usage__gte=share * F("value")))


def quotas_by_use() -> QuerySet[ServiceQuota]:
    """Quotas, the largest share of their value in use first; those whose usage is not counted last."""
    share = Case(
        When(usage__isnull=True, then=Value(None)),
        When(value=0, usage__gt=0, then=Value(Decimal("1e9"))),
        When(value=0, then=Value(Decimal(0))),
        default=F("usage") / F("value"),
        output_field=DecimalField(max_digits=40, decimal_places=12),
    )
    return (
        ServiceQuota.objects.select_related("account")
        .annotate(share=share)
        .order_by(F("share").desc(nulls_last=True), "account__account_id", "region", "service_code", "name")
    )
