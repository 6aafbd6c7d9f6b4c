"""Cloud accounts: creation, and member discovery through AWS Organizations."""

from __future__ import annotations

from django.db import transaction

from finops.aws.clients import aws_client, with_backoff
from finops.models import CloudAccount


@transaction.atomic
def cloud_account_create(
    *,
    account_id: str,
    name: str = "",
    role_arn: str = "",
    external_id: str = "",
    regions: list[str] | None = None,
    cost_explorer_enabled: bool = True,
    exports_enabled: bool = False,
    export_s3_uri: str = "",
) -> CloudAccount:
    account = CloudAccount(
        account_id=account_id,
        name=name,
        role_arn=role_arn,
        external_id=external_id,
        regions=regions or [],
        cost_explorer_enabled=cost_explorer_enabled,
        exports_enabled=exports_enabled,
        export_s3_uri=export_s3_uri,
    )
    account.full_clean()
    account.save()
    return account


@transaction.atomic
def member_accounts_discover(*, payer: CloudAccount, client=None) -> list[CloudAccount]:
    """Create (or name) every active member account the payer's organization lists. Returns them."""
    client = client or aws_client("organizations", account=payer)
    found: list[CloudAccount] = []
    token: str | None = None
    while True:
        page = with_backoff(client.list_accounts, **({"NextToken": token} if token else {}))
        for entry in page.get("Accounts", []):
            if entry.get("Status", "ACTIVE") != "ACTIVE" or entry["Id"] == payer.account_id:
                continue
            account, created = CloudAccount.objects.get_or_create(
                account_id=entry["Id"],
                defaults={"name": entry.get("Name", ""), "payer": payer, "discovered": True, "regions": payer.regions},
            )
            if not created and (account.payer_id is None or not account.name):
                account.payer = account.payer or payer
                account.name = account.name or entry.get("Name", "")
                account.save(update_fields=["payer", "name"])
            found.append(account)
        token = page.get("NextToken")
        if not token:
            return found
