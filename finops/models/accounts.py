from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.core.validators import RegexValidator
from django.db import models

account_id_validator = RegexValidator(r"^\d{12}$", "An AWS account id has exactly 12 digits.")


class CloudAccount(models.Model):
    """An AWS account Costplane reads (and, when allowed, acts on) through an assumed role.

    No long-lived keys are stored: Costplane assumes `role_arn` with `external_id` through STS.
    """

    account_id = models.CharField(max_length=12, unique=True, validators=[account_id_validator])
    name = models.CharField(max_length=200, blank=True)
    role_arn = models.CharField(
        max_length=2048, blank=True, help_text="IAM role assumed through STS; blank: the base credentials."
    )
    external_id = models.CharField(max_length=1224, blank=True)
    regions = ArrayField(models.CharField(max_length=32), default=list, blank=True)
    payer = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="members",
        help_text="The management (payer) account this member account was discovered through.",
    )  # fmt: skip
    cost_explorer_enabled = models.BooleanField(default=True)
    exports_enabled = models.BooleanField(default=False)
    export_s3_uri = models.CharField(
        max_length=1024, blank=True, help_text="s3://bucket/prefix of a CUR 2.0 or FOCUS data export."
    )
    inventory_enabled = models.BooleanField(default=True)
    dry_run = models.BooleanField(default=True, help_text="Actions are only simulated (DryRun=True) while set.")
    discovered = models.BooleanField(default=False, help_text="Created by Organizations discovery, not by hand.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["account_id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(account_id__regex=r"^\d{12}$"), name="cloud_account_id_12_digits")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.account_id})" if self.name else self.account_id
