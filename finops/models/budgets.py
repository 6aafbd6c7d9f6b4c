from __future__ import annotations

from django.conf import settings
from django.db import models

from finops.models.billing import MONEY


class Budget(models.Model):
    """An amount to spend per month or quarter on a scope of the spend (blank scope fields: everything).

    The scope narrows the same rows the Reports API reads: `team` by its team-tag values
    (COSTPLANE_TEAM_TAG_KEY), `tag_key`=`tag_value`, `account_id` (any sub-account id) and `service`.
    """

    class Period(models.TextChoices):
        MONTH = "month", "Month"
        QUARTER = "quarter", "Quarter"

    class CostBasis(models.TextChoices):
        BILLED = "billed", "Billed"
        EFFECTIVE = "effective", "Effective (amortised, net)"

    name = models.CharField(max_length=200, unique=True)
    team = models.ForeignKey(
        "finops.Team", null=True, blank=True, on_delete=models.PROTECT, related_name="budgets",
        help_text="Only the spend tagged with one of this team's tag values.",
    )  # fmt: skip
    tag_key = models.TextField(blank=True)
    tag_value = models.TextField(blank=True)
    account_id = models.TextField(blank=True, help_text="A sub-account id as the billing data writes it.")
    service = models.TextField(blank=True)
    period = models.CharField(max_length=10, choices=Period.choices, default=Period.MONTH)
    amount = models.DecimalField(**MONEY)
    currency = models.CharField(
        max_length=3, default="USD", help_text="ISO 4217: the budget counts only the rows billed in it."
    )
    cost_basis = models.CharField(max_length=10, choices=CostBasis.choices, default=CostBasis.BILLED)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="budget_amount_positive"),
            models.CheckConstraint(
                condition=(models.Q(tag_key="") & models.Q(tag_value="")) | (~models.Q(tag_key="")),
                name="budget_tag_value_needs_key",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class BudgetThreshold(models.Model):
    """A percentage of the budget's amount that notifies once per period when actual or forecast spend reaches it."""

    class Kind(models.TextChoices):
        ACTUAL = "actual", "Actual"
        FORECAST = "forecast", "Forecast"

    budget = models.ForeignKey(Budget, on_delete=models.CASCADE, related_name="thresholds")
    percent = models.DecimalField(max_digits=7, decimal_places=2)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.ACTUAL)

    class Meta:
        ordering = ["budget", "kind", "percent"]
        constraints = [
            models.UniqueConstraint(fields=["budget", "kind", "percent"], name="budget_threshold_unique"),
            models.CheckConstraint(condition=models.Q(percent__gt=0), name="budget_threshold_percent_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.budget}: {self.percent}% of {self.kind}"


class BudgetCrossing(models.Model):
    """A threshold reached in one period: recorded once, so it notifies once and stays current for the period."""

    threshold = models.ForeignKey(BudgetThreshold, on_delete=models.CASCADE, related_name="crossings")
    period_start = models.DateField()
    period_end = models.DateField(help_text="Exclusive.")
    crossed_at = models.DateTimeField()
    spend = models.DecimalField(**MONEY, help_text="The actual or forecast spend that reached the threshold.")
    method = models.CharField(max_length=20, blank=True, help_text="For forecast thresholds: forecast or run_rate.")

    class Meta:
        ordering = ["-period_start", "threshold"]
        constraints = [
            models.UniqueConstraint(fields=["threshold", "period_start"], name="budget_crossing_once_per_period")
        ]

    def __str__(self) -> str:
        return f"{self.threshold} crossed in the period from {self.period_start}"
