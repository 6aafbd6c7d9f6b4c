"""The exact daily rollup of CostRecord that reports read whenever their keys allow (finops.services.rollups)."""

from __future__ import annotations

from django.conf import settings
from django.db import models

# Sums of NUMERIC(38, 20) lines: 38 integer digits leave no room for overflow, 20 places for no rounding.
ROLLUP_MONEY = {"max_digits": 58, "decimal_places": 20}


class ScopeSums(models.Model):
    """What every table summed from billing lines per scope holds: the scope (source, billing account, billing
    period), the account, provider, charge category and currency, and the sums per cost basis."""

    source = models.CharField(max_length=12, db_collation="C")
    billing_account_id = models.TextField(db_collation="C")
    billing_period_start = models.DateField()
    sub_account_id = models.TextField()
    provider_name = models.TextField(null=True)  # noqa: DJ001 - null and "" kept apart, as in CostRecord
    charge_category = models.CharField(max_length=12)
    billing_currency = models.CharField(max_length=3)
    billed_cost = models.DecimalField(**ROLLUP_MONEY)
    effective_cost = models.DecimalField(**ROLLUP_MONEY)
    list_cost = models.DecimalField(**ROLLUP_MONEY, null=True)
    list_cost_missing = models.BigIntegerField(default=0, help_text="Lines without a list cost.")

    class Meta:
        abstract = True


class DailyLineSums(ScopeSums):
    """ScopeSums per UTC day and every other column a report groups or filters by but the resource."""

    day = models.DateField()
    invoice_issuer_name = models.TextField(null=True)  # noqa: DJ001
    service_name = models.TextField(null=True)  # noqa: DJ001
    region_id = models.TextField(null=True)  # noqa: DJ001
    usage_type = models.TextField(null=True)  # noqa: DJ001
    tags = models.JSONField(default=dict)

    class Meta:
        abstract = True


class CostDailyRollup(DailyLineSums):
    """Billing lines summed per UTC day and every column a report groups or filters by except the resource: day,
    source, billing account, billing period, account, provider, service, region, usage type, charge category,
    currency, and the values of the rollup's tag keys (`tags`: each key of CostRollupState.tag_keys, null when the
    line lacks it).

    Rebuilt per (source, billing account, billing period) in the transaction of each import and replace, from the
    stored lines themselves, so it never drifts from them; parallel imports of different periods never write the
    same rows, and retention deletes a month's rows with its partition."""

    lines = models.BigIntegerField()

    class Meta:
        indexes = [
            models.Index(fields=["source", "billing_account_id", "billing_period_start"], name="cost_rollup_scope"),
            models.Index(fields=["day", "sub_account_id"], name="cost_rollup_day_account"),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.sub_account_id} {self.service_name} {self.billed_cost}"


class CostTagRollup(ScopeSums):
    """The daily rollup summed once more, per tag key: for each (source, billing account, billing period, account,
    provider, charge category, currency) and each of the rollup's tag keys, the cost per value of that key (null:
    the lines lack it), per day (`grain` "day") and per calendar month (`grain` "month", `period` its first day).

    A few hundred rows a day where the daily rollup has one per service, region and usage type too: reports that
    group by one tag key and filter by nothing else it lacks (allocation by team over a year) read it instead.
    Rebuilt with the daily rollup, per scope, in the same transaction (finops.rollup_sql)."""

    class Grain(models.TextChoices):
        DAY = "day"
        MONTH = "month"

    grain = models.CharField(max_length=5, choices=Grain.choices)
    period = models.DateField()
    tag_key = models.TextField()
    tag_value = models.TextField(null=True)  # noqa: DJ001 - the lines lack the key
    lines = models.BigIntegerField()

    class Meta:
        indexes = [
            models.Index(fields=["source", "billing_account_id", "billing_period_start"], name="cost_tag_rollup_scope"),
            models.Index(fields=["tag_key", "grain", "period"], name="cost_tag_rollup_key_period"),
        ]

    def __str__(self) -> str:
        return f"{self.grain} {self.period} {self.tag_key}={self.tag_value} {self.billed_cost}"


class CostRollupState(models.Model):
    """The one row saying which tag keys the rollup holds: COSTPLANE_ALLOCATION_TAG_KEYS when it was last rebuilt
    (`manage.py rollups_rebuild`). Reports serve a tag key from the rollup only when it is one of these."""

    tag_keys = models.JSONField(default=list)
    rebuilt_at = models.DateTimeField(null=True)

    def __str__(self) -> str:
        return f"rollup tag keys {self.tag_keys}"

    @classmethod
    def current_tag_keys(cls) -> list[str]:
        """The tag keys the rollup holds (migration 0015 records them; the setting's before any record)."""
        state = cls.objects.order_by("pk").first()
        return list(state.tag_keys) if state else list(settings.COSTPLANE_ALLOCATION_TAG_KEYS)
