from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from capacity.tasks import capacity_ingest, derived_refresh_when_settled, prices_ingest
from finops.models import CloudAccount


class Command(BaseCommand):
    help = (
        "Queue inventory, utilisation and quota collection (and a price refresh) for accounts now; with "
        "--then-derive, what is computed from them afterwards."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--account", action="append", default=[], help="12-digit id; repeat. Default: all")
        parser.add_argument(
            "--then-derive", type=int, default=0, metavar="SECONDS",
            help="Also queue GPU demand/forecasts, recommendations, cost anomalies and alerts once billing and this "
            "collection have landed, checking from this many seconds on",
        )  # fmt: skip

    def handle(self, *args, account: list[str], **options) -> None:
        accounts = CloudAccount.objects.filter(inventory_enabled=True)
        if account:
            accounts = accounts.filter(account_id__in=account)
            missing = set(account) - set(accounts.values_list("account_id", flat=True))
            if missing:
                raise CommandError(f"Unknown or inventory-disabled account(s): {', '.join(sorted(missing))}.")
        for cloud_account in accounts:
            capacity_ingest.delay(cloud_account.pk)
            self.stdout.write(f"Queued capacity collection for {cloud_account}.")
        prices_ingest.delay()
        self.stdout.write("Queued a price refresh.")
        if options["then_derive"]:
            # What is derived reads billing, inventory, utilisation, quotas and prices: it waits for them to land.
            derived_refresh_when_settled.apply_async(
                kwargs={"since": timezone.now().isoformat()}, countdown=options["then_derive"]
            )
            self.stdout.write(
                "Queued GPU demand and its forecasts, the spend forecast, recommendations and cost anomalies for when "
                f"billing and capacity collection have landed (checked from {options['then_derive']} s on), then "
                "alerts."
            )
