"""Cloud account reads for the pages' account pickers and labels."""

from __future__ import annotations

from django.db.models import QuerySet

from finops.models import CloudAccount


def cloud_accounts_listed() -> QuerySet[CloudAccount]:
    """Every cloud account, by its 12-digit id."""
    return CloudAccount.objects.order_by("account_id")


def cloud_account_names() -> dict[str, str]:
    """{account id: name} of every cloud account (the name may be empty), to label rows that carry only the id."""
    return dict(CloudAccount.objects.values_list("account_id", "name"))
