from __future__ import annotations

from django.contrib.postgres.indexes import GinIndex
from django.db import connection, models, transaction

from finops.models.rollups import CostRollupState
from finops.partitions import partitions_ensure
from finops.rollup_sql import rollup_scopes_rebuild

# NUMERIC(38, 20): AWS files carry up to 19 fractional digits; 18 integer digits is plenty for money.
MONEY = {"max_digits": 38, "decimal_places": 20}


class IngestionRun(models.Model):
    """One pull of one source for one window (or one imported file set), with what it cost and found."""

    class Source(models.TextChoices):
        COST_EXPLORER = "cost_explorer", "Cost Explorer"
        EXPORT = "export", "Data export (S3)"
        FILE = "file", "Billing file import"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    account = models.ForeignKey(
        "finops.CloudAccount", null=True, blank=True, on_delete=models.SET_NULL, related_name="ingestion_runs"
    )
    source = models.CharField(max_length=20, choices=Source.choices)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    window_start = models.DateField(null=True, blank=True)
    window_end = models.DateField(null=True, blank=True, help_text="Exclusive.")
    location = models.CharField(max_length=2048, blank=True, help_text="File, folder or s3:// URI imported.")
    rows = models.BigIntegerField(default=0, help_text="Rows written (inserted, replaced or kept).")
    rows_inserted = models.BigIntegerField(default=0)
    rows_deleted = models.BigIntegerField(default=0)
    requests = models.PositiveIntegerField(
        default=0, help_text="Billable API requests made (Cost Explorer bills each)."
    )
    error = models.TextField(blank=True)
    detail = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["account", "source", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.get_source_display()} run {self.pk} ({self.status})"

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None


class CostRecordQuerySet(models.QuerySet):
    """Rows written through the ORM (tests, small tools) keep what imports keep: the partitions of their months
    exist first, and the daily rollup of every scope they touch is rebuilt in the same transaction. Imports write
    with COPY and do both their own way (finops.partitions, finops.rollup_sql)."""

    def _scopes(self) -> set[tuple[str, str, object]]:
        return set(self.order_by().values_list("source", "billing_account_id", "billing_period_start").distinct())

    @staticmethod
    def _rollups_rebuild(scopes) -> None:
        with connection.cursor() as cursor:
            rollup_scopes_rebuild(cursor, scopes, CostRollupState.current_tag_keys())

    def bulk_create(self, objs, *args, **kwargs):
        objs = list(objs)
        partitions_ensure(record.billing_period_start for record in objs)
        with transaction.atomic():
            created = super().bulk_create(objs, *args, **kwargs)
            self._rollups_rebuild({(r.source, r.billing_account_id, r.billing_period_start) for r in objs})
        return created

    def update(self, **kwargs):
        with transaction.atomic():
            scopes = self._scopes()
            updated = super().update(**kwargs)
            self._rollups_rebuild(scopes)
        return updated

    def delete(self):
        with transaction.atomic():
            scopes = self._scopes()
            deleted = super().delete()
            self._rollups_rebuild(scopes)
        return deleted


class CostRecord(models.Model):
    """One billing-export line at the grain of the source (FOCUS 1.2 names), from FOCUS, CUR 2.0 or legacy CUR.

    An import replaces what the same source wrote for the same billing account and billing period.
    `line_key` identifies a line by its content (plus its occurrence number among identical lines),
    so re-importing a revised file deletes and inserts exactly the lines that changed.

    The table is partitioned by month of billing_period_start, with the primary key (billing_account_id,
    billing_period_start, id) in the database (migration 0014; finops.partitions): Django still sees `id` as
    the key, which the table's sequence keeps unique.
    """

    class Format(models.TextChoices):
        FOCUS = "focus", "FOCUS"
        CUR2 = "cur2", "CUR 2.0"
        CUR_LEGACY = "cur_legacy", "Legacy CUR"

    class ChargeCategory(models.TextChoices):
        USAGE = "usage", "Usage"
        PURCHASE = "purchase", "Purchase"
        TAX = "tax", "Tax"
        CREDIT = "credit", "Credit"
        ADJUSTMENT = "adjustment", "Adjustment"

    # The natural key's text columns compare bytewise ("C"): its unique index is the dearest part of a
    # load, and a linguistic collation there buys nothing (these are codes and hashes, never sorted for people).
    source = models.CharField(max_length=12, choices=Format.choices, db_collation="C")
    # Which run wrote the line, for tracing only: no database constraint, whose per-row check would be
    # a large part of a bulk load's cost. Runs are never deleted.
    run = models.ForeignKey(
        IngestionRun, null=True, on_delete=models.DO_NOTHING, related_name="+", db_index=False, db_constraint=False
    )
    line_key = models.CharField(max_length=40, db_collation="C")
    # Identifiers and names are text of any length, as FOCUS allows (an Oracle tenancy OCID is 84 characters, an
    # Azure resource id several hundred). The optional ones keep FOCUS's null apart from an empty string: null is
    # "the file gave no value", "" is a value the file gave.
    billing_account_id = models.TextField(db_collation="C")
    sub_account_id = models.TextField()
    billing_period_start = models.DateField()
    billing_period_end = models.DateField()
    charge_period_start = models.DateTimeField()
    charge_period_end = models.DateTimeField()
    charge_category = models.CharField(max_length=12, choices=ChargeCategory.choices)
    charge_class = models.TextField(null=True, blank=True)  # noqa: DJ001
    service_name = models.TextField(null=True, blank=True)  # noqa: DJ001
    service_category = models.TextField(null=True, blank=True)  # noqa: DJ001
    region_id = models.TextField(null=True, blank=True)  # noqa: DJ001
    resource_id = models.TextField(null=True, blank=True)  # noqa: DJ001
    usage_type = models.TextField(null=True, blank=True)  # noqa: DJ001
    sku_id = models.TextField(null=True, blank=True, help_text="FOCUS SkuId; CUR product/sku.")  # noqa: DJ001
    pricing_quantity = models.DecimalField(**MONEY, null=True, blank=True)
    pricing_unit = models.TextField(null=True, blank=True)  # noqa: DJ001
    billed_cost = models.DecimalField(**MONEY)
    effective_cost = models.DecimalField(**MONEY)
    list_cost = models.DecimalField(**MONEY, null=True, blank=True)
    billing_currency = models.CharField(max_length=3, default="USD", help_text="ISO 4217: every cost basis is in it.")
    pricing_currency = models.TextField(  # noqa: DJ001
        null=True, blank=True, help_text="FOCUS 1.2 PricingCurrency: kept, never used as a cost basis."
    )
    # FOCUS 1.2's PricingCurrency figures: kept as the file gives them, never a cost basis (every report reads the
    # billing currency's billed, effective or list cost).
    pricing_currency_effective_cost = models.DecimalField(**MONEY, null=True, blank=True)
    pricing_currency_contracted_unit_price = models.DecimalField(**MONEY, null=True, blank=True)
    pricing_currency_list_unit_price = models.DecimalField(**MONEY, null=True, blank=True)
    provider_name = models.TextField(null=True, blank=True, help_text="FOCUS ProviderName; AWS for CUR.")  # noqa: DJ001
    invoice_issuer_name = models.TextField(  # noqa: DJ001
        null=True, blank=True, help_text="FOCUS InvoiceIssuerName; CUR bill/InvoicingEntity."
    )
    invoice_id = models.TextField(null=True, blank=True, help_text="FOCUS 1.2 InvoiceId; CUR bill/InvoiceId.")  # noqa: DJ001
    tags = models.JSONField(default=dict, blank=True)

    objects = CostRecordQuerySet.as_manager()

    class Meta:
        ordering = ["charge_period_start", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "billing_account_id", "billing_period_start", "line_key"],
                name="cost_record_natural_key",
            )
        ]
        indexes = [
            models.Index(fields=["charge_period_start", "sub_account_id"], name="cost_record_day_account"),
            GinIndex(fields=["tags"], name="cost_record_tags", opclasses=["jsonb_path_ops"]),
        ]

    def __str__(self) -> str:
        return f"{self.sub_account_id} {self.service_name} {self.charge_period_start:%Y-%m-%d} {self.billed_cost}"

    def save(self, *args, **kwargs):
        partitions_ensure([self.billing_period_start])
        with transaction.atomic():
            super().save(*args, **kwargs)
            CostRecordQuerySet._rollups_rebuild({(self.source, self.billing_account_id, self.billing_period_start)})


class ExportDailyTotal(models.Model):
    """What a billing file said an account spent on a day, summed while reading it.

    Kept apart from CostRecord so reconciliation can compare the file, the stored rows and Cost Explorer.
    """

    source = models.CharField(max_length=12, choices=CostRecord.Format.choices)
    billing_account_id = models.TextField()
    billing_period_start = models.DateField()
    sub_account_id = models.TextField()
    day = models.DateField()
    billed_cost = models.DecimalField(**MONEY)
    effective_cost = models.DecimalField(**MONEY)
    run = models.ForeignKey(IngestionRun, null=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["day", "sub_account_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "billing_account_id", "billing_period_start", "sub_account_id", "day"],
                name="export_daily_total_unique",
            )
        ]

    def __str__(self) -> str:
        return f"{self.sub_account_id} {self.day} {self.billed_cost}"


class CostExplorerRecord(models.Model):
    """One Cost Explorer result cell: a day, one group of one query set (a view), four metrics.

    Each view (`account_service`, `tag:team`, ...) is a complete, separate picture of the same spend:
    a read picks exactly one view and never adds two together.
    """

    ACCOUNT_SERVICE_VIEW = "account_service"

    account = models.ForeignKey("finops.CloudAccount", on_delete=models.CASCADE, related_name="cost_explorer_records")
    view = models.CharField(
        max_length=140, help_text="Query set: account_service, or tag:KEY (grouped by tag and service)."
    )
    day = models.DateField()
    linked_account_id = models.CharField(max_length=12, blank=True, default="")
    service_name = models.CharField(max_length=200, blank=True, default="")
    tag_key = models.TextField(blank=True, default="")
    tag_value = models.TextField(blank=True, default="", help_text="Empty: untagged (`key$`).")
    unblended_cost = models.DecimalField(**MONEY)
    amortized_cost = models.DecimalField(**MONEY)
    net_amortized_cost = models.DecimalField(**MONEY)
    usage_quantity = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3, default="USD")
    estimated = models.BooleanField(default=False)
    run = models.ForeignKey(IngestionRun, null=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["day", "view", "linked_account_id", "service_name"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "view", "day", "linked_account_id", "service_name", "tag_value"],
                name="cost_explorer_cell_unique",
            )
        ]
        indexes = [models.Index(fields=["account", "view", "day"], name="ce_account_view_day")]

    def __str__(self) -> str:
        return f"{self.view} {self.day} {self.linked_account_id} {self.service_name} {self.unblended_cost}"
