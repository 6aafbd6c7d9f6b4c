"""Prices: on-demand hourly prices per instance type and region from the AWS Pricing API, cached by date.

EC2: Linux, shared tenancy, no pre-installed software, capacity status "Used" (the plain on-demand
box). SageMaker ml.* types: one price per component (Hosting, Training, Notebook), matched on the
price list's `instanceName` and `component` attributes. Regions match on `regionCode`.

A key the price list has no product for, or several products with different prices, is stored as
missing (no amount): a price is never guessed. A key fetched today is not fetched again unless forced.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from capacity.aws import RequestCount
from capacity.aws import pricing as pricing_api
from capacity.models import CollectionRun, Price
from capacity.services.runs import collection_run
from finops.aws.clients import aws_client

SAGEMAKER_COMPONENTS = ("Hosting", "Training", "Notebook")
EC2_DEFAULTS = {"operatingSystem": "Linux", "tenancy": "Shared", "preInstalledSw": "NA", "capacitystatus": "Used"}


def price_keys(*, regions: list[str], instance_types: list[str]) -> list[dict[str, str]]:
    """Every Price key to look up: EC2 types once, ml.* types once per SageMaker component."""
    keys = []
    for region in sorted(set(regions)):
        for instance_type in sorted(set(instance_types)):
            if instance_type.startswith("ml."):
                keys += [
                    {"service": Price.Service.SAGEMAKER, "region": region, "instance_type": instance_type,
                     "operating_system": "", "tenancy": "", "component": component}
                    for component in SAGEMAKER_COMPONENTS
                ]  # fmt: skip
            elif instance_type:
                keys.append(
                    {"service": Price.Service.EC2, "region": region, "instance_type": instance_type,
                     "operating_system": "Linux", "tenancy": "Shared", "component": ""}
                )  # fmt: skip
    return keys


def _lookup(client: Any, key: dict[str, str], count: RequestCount) -> tuple[Decimal | None, str, str]:
    """(hourly price or None, currency, sku) for one key."""
    if key["service"] == Price.Service.EC2:
        service_code = "AmazonEC2"
        filters = {"instanceType": key["instance_type"], "regionCode": key["region"]} | EC2_DEFAULTS
    else:
        service_code = "AmazonSageMaker"
        filters = {"instanceName": key["instance_type"], "regionCode": key["region"], "component": key["component"]}
    found: dict[Decimal, str] = {}
    currency = "USD"
    for product in pricing_api.products(client, service_code=service_code, filters=filters, count=count):
        price = pricing_api.on_demand_hourly(product)
        if price is not None:
            found[price[0]] = product.get("product", {}).get("sku", "")
            currency = price[1]
    if len(found) != 1:
        return None, currency, ""
    ((amount, sku),) = found.items()
    return amount, currency, sku


def prices_refresh(
    *,
    regions: list[str],
    instance_types: list[str],
    client: Any | None = None,
    today: date | None = None,
    force: bool = False,
) -> CollectionRun:
    """Fetch the prices of `instance_types` in `regions` not fetched today (all of them with `force`)."""
    today = today or timezone.now().date()
    with collection_run(kind=CollectionRun.Kind.PRICES) as (run, count):
        keys = price_keys(regions=regions, instance_types=instance_types)
        if not force:
            fresh = {
                (price.service, price.region, price.instance_type, price.operating_system, price.tenancy,
                 price.component)
                for price in Price.objects.filter(fetched_on=today)
            }  # fmt: skip
            keys = [key for key in keys if tuple(key.values()) not in fresh]
        client = client or aws_client("pricing", region=pricing_api.PRICING_REGION)
        looked_up = [(key, _lookup(client, key, count)) for key in keys]
        with transaction.atomic():
            for key, (amount, currency, sku) in looked_up:
                Price.objects.update_or_create(
                    **key,
                    defaults={"hourly_usd": amount, "currency": currency, "missing": amount is None, "sku": sku,
                              "fetched_on": today},
                )  # fmt: skip
        missing = sum(1 for _, (amount, _, _) in looked_up if amount is None)
        run.counts = {"looked_up": len(looked_up), "found": len(looked_up) - missing, "missing": missing}
    return run
