from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from finops.models import CloudAccount, IngestionRun
from finops.services.accounts import cloud_account_create, member_accounts_discover
from finops.services.ingestion import ingestion_request


class Command(BaseCommand):
    help = "Add (or update) a cloud account; optionally discover its member accounts and queue its first ingestion."

    def add_arguments(self, parser) -> None:
        parser.add_argument("account_id", help="12-digit AWS account id")
        parser.add_argument("--name", default="")
        parser.add_argument("--role-arn", default="", help="IAM role Costplane assumes (with --external-id)")
        parser.add_argument("--external-id", default="")
        parser.add_argument("--region", action="append", dest="regions", default=[], help="Repeat for each region")
        parser.add_argument("--export-uri", default="", help="s3://bucket/prefix of a CUR 2.0 / FOCUS data export")
        parser.add_argument("--discover-members", action="store_true", help="List member accounts via Organizations")
        parser.add_argument("--ingest", action="store_true", help="Queue Cost Explorer and export ingestion now")

    def handle(self, *args, account_id: str, **options) -> None:
        fields = {
            "name": options["name"],
            "role_arn": options["role_arn"],
            "external_id": options["external_id"],
            "regions": options["regions"],
            "exports_enabled": bool(options["export_uri"]),
            "export_s3_uri": options["export_uri"],
        }
        account = CloudAccount.objects.filter(account_id=account_id).first()
        try:
            if account is None:
                account = cloud_account_create(account_id=account_id, **fields)
                self.stdout.write(f"Added account {account}.")
            else:
                for name, value in fields.items():
                    setattr(account, name, value)
                account.full_clean()
                account.save()
                self.stdout.write(f"Updated account {account}.")
        except ValidationError as error:
            raise CommandError(
                "; ".join(f"{key}: {' '.join(value)}" for key, value in error.message_dict.items())
            ) from None
        if options["discover_members"]:
            members = member_accounts_discover(payer=account)
            self.stdout.write(f"Found {len(members)} member account(s): {', '.join(m.account_id for m in members)}.")
        if options["ingest"]:
            sources = [IngestionRun.Source.COST_EXPLORER] if account.cost_explorer_enabled else []
            if account.exports_enabled:
                sources.append(IngestionRun.Source.EXPORT)
            for source in sources:
                run = ingestion_request(account=account, source=source)
                self.stdout.write(f"Queued {run.get_source_display()} ingestion (run {run.pk}).")
