from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models

from finops.models.billing import MONEY, CostRecord, IngestionRun


class BillingPeriod(models.Model):
    """One (source, billing account, billing period) as its deliveries describe it (ARCHITECTURE.md, "Currencies and
    billing periods"): estimated until the source says it is final, then final.

    Kept by finops.services.billing_periods at the end of every import that touches the scope, in the import's
    transaction. `total` is Σ billed cost of the stored rows, exact. `rules_version` is the allocation rules version
    in force when the period became final: its allocations are computed under it until an operator re-allocates it
    (BillingPeriodReallocation).
    """

    class Status(models.TextChoices):
        ESTIMATED = "estimated", "Estimated"
        FINAL = "final", "Final"

    class FinalReason(models.TextChoices):
        INVOICE = "invoice", "Invoiced"
        AGE = "age", "By age"

    source = models.CharField(max_length=12, choices=CostRecord.Format.choices, db_collation="C")
    billing_account_id = models.TextField(db_collation="C")
    billing_period_start = models.DateField()
    billing_period_end = models.DateField(help_text="Exclusive, as FOCUS BillingPeriodEnd.")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.ESTIMATED)
    final_reason = models.CharField(max_length=8, choices=FinalReason.choices, null=True, blank=True)  # noqa: DJ001
    finalised_at = models.DateTimeField(null=True, blank=True)
    final_by_age = models.BooleanField(
        default=False,
        help_text="The last delivery had no invoice id column (FOCUS before 1.2): it becomes final by age "
        "(COSTPLANE_BILLING_FINAL_AFTER_DAYS after the period ends).",
    )
    currency = models.CharField(
        max_length=64, blank=True, help_text="The rows' billing currency (comma-separated if they hold several)."
    )
    total = models.DecimalField(
        **MONEY, null=True, blank=True, help_text="Σ billed cost; null over several currencies."
    )
    lines = models.BigIntegerField(default=0)
    invoice_ids = ArrayField(models.TextField(), default=list, blank=True)
    rules_version = models.PositiveIntegerField(
        null=True, blank=True, help_text="Allocation rules version its allocations are computed under once final."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-billing_period_start", "source", "billing_account_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "billing_account_id", "billing_period_start"], name="billing_period_unique"
            ),
            models.CheckConstraint(
                condition=models.Q(status="estimated", final_reason__isnull=True)
                | models.Q(status="final", final_reason__isnull=False),
                name="billing_period_final_has_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.source} {self.billing_account_id} {self.billing_period_start} ({self.status})"


class BillingRestatement(models.Model):
    """A delivery that changed a final period's lines: what the period held before and after, never overwritten."""

    period = models.ForeignKey(BillingPeriod, on_delete=models.CASCADE, related_name="restatements")
    run = models.ForeignKey(IngestionRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    detected_at = models.DateTimeField()
    total_before = models.DecimalField(**MONEY, null=True, blank=True)
    total_after = models.DecimalField(**MONEY, null=True, blank=True)
    lines_added = models.BigIntegerField()
    lines_removed = models.BigIntegerField()

    class Meta:
        ordering = ["-detected_at", "-id"]

    def __str__(self) -> str:
        return f"restatement of {self.period} at {self.detected_at:%Y-%m-%d %H:%M}"

    @property
    def difference(self):
        if self.total_before is None or self.total_after is None:
            return None
        return self.total_after - self.total_before


class BillingPeriodReallocation(models.Model):
    """The audit entry of an operator's explicit re-allocation of a final period under another rules version."""

    period = models.ForeignKey(BillingPeriod, on_delete=models.CASCADE, related_name="reallocations")
    rules_version_before = models.PositiveIntegerField(null=True, blank=True)
    rules_version_after = models.PositiveIntegerField()
    comment = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.period}: rules v{self.rules_version_before} → v{self.rules_version_after}"
