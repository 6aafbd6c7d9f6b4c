from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from capacity.tasks import (
    alerts_evaluate,
    capacity_ingest,
    compute_optimizer_ingest_all,
    gpu_demand_refresh,
    gpu_rightsizing_compute,
    prices_ingest,
    spend_forecasts_refresh_task,
)
from finops.models import CloudAccount
from finops.tasks import cost_anomalies_aws_ingest_all, cost_anomalies_detect


class Command(BaseCommand):
    help = (
        "Queue inventory, utilisation and quota collection (and a price refresh) for accounts now; with "
        "--then-derive, what is computed from them afterwards."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--account", action="append", default=[], help="12-digit id; repeat. Default: all")
        parser.add_argument(
            "--then-derive", type=int, default=0, metavar="SECONDS",
            help="Also queue GPU demand/forecasts, recommendations, cost anomalies and alerts this many seconds later",
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
            # Demand and right-sizing read billing, inventory, utilisation and prices: give those a head start.
            gpu_demand_refresh.apply_async(countdown=options["then_derive"])
            spend_forecasts_refresh_task.apply_async(countdown=options["then_derive"])
            compute_optimizer_ingest_all.apply_async(countdown=options["then_derive"])
            gpu_rightsizing_compute.apply_async(countdown=options["then_derive"] + 60)
            # A new install has no anomaly history yet: look back a month rather than the daily run's few days.
            cost_anomalies_detect.apply_async(kwargs={"lookback_days": 30}, countdown=options["then_derive"])
            cost_anomalies_aws_ingest_all.apply_async(countdown=options["then_derive"])
            # Alerts read all of the above (budgets, anomalies, actions, quotas): evaluate them last.
            alerts_evaluate.apply_async(countdown=options["then_derive"] + 120)
            self.stdout.write(
                f"Queued GPU demand and its forecasts, the spend forecast, recommendations and cost anomalies in "
                f"{options['then_derive']} s, "
                "then alerts."
            )
