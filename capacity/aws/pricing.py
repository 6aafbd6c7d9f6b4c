"""The AWS Pricing API (GetProducts): on-demand hourly prices from the price list's JSON documents.

The Pricing API is served from us-east-1 whatever region the prices are for.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from botocore.client import BaseClient

from capacity.aws import RequestCount, pages

PRICING_REGION = "us-east-1"


def products(
    client: BaseClient, *, service_code: str, filters: dict[str, str], count: RequestCount | None = None
) -> Iterator[dict[str, Any]]:
    """Each product document matching every `filters` attribute exactly (TERM_MATCH), parsed."""
    conditions = [{"Type": "TERM_MATCH", "Field": field, "Value": value} for field, value in filters.items()]
    for page in pages(
        client.get_products, count=count, ServiceCode=service_code, Filters=conditions, FormatVersion="aws_v1"
    ):
        for document in page.get("PriceList", []):
            yield json.loads(document) if isinstance(document, str) else document


def on_demand_hourly(product: dict[str, Any]) -> tuple[Decimal, str] | None:
    """(price per hour, currency) of a product's on-demand term, or None when it has no hourly USD price."""
    for term in product.get("terms", {}).get("OnDemand", {}).values():
        for dimension in term.get("priceDimensions", {}).values():
            if dimension.get("unit") in ("Hrs", "Hours") and "USD" in dimension.get("pricePerUnit", {}):
                return Decimal(dimension["pricePerUnit"]["USD"]), "USD"
    return None
