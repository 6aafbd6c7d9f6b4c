"""Pricing GetProducts for the sandbox: the price list of its rate table, in AWS's aws_v1 format.

Each product is a JSON string as AWS returns it (product attributes, OnDemand terms, pricePerUnit in
USD with 10 fractional digits). EC2 lists Linux and Windows shared-tenancy products per instance type
and region, for the types the organisation runs and, as AWS's list does, GPU types it does not;
SageMaker lists ml.* instances per component (Hosting, Training, Notebook). A type the
rate table lacks has no product, so callers see "not found" as they would on AWS.
"""

from __future__ import annotations

import json
from decimal import Decimal
from functools import cache

from sandbox import rates
from sandbox.catalogue import stable_hex
from sandbox.errors import AwsError

DEFAULT_PAGE_SIZE = 100
PUBLICATION = "2025-05-01T00:00:00Z"
VERSION = "20250501000000"
WINDOWS_SURCHARGE_PER_VCPU = Decimal("0.046")  # the sandbox's Windows licence, per vCPU-hour
SAGEMAKER_COMPONENTS = {
    "Hosting": ("Host", rates.SAGEMAKER_HOSTING_HOURLY | rates.SAGEMAKER_HOSTING_CATALOGUE_HOURLY),
    "Training": ("Train", rates.SAGEMAKER_TRAINING_HOURLY),
    "Notebook": ("Notebk", rates.SAGEMAKER_NOTEBOOK_HOURLY),
}


def _product(service_code: str, attributes: dict[str, str], price: Decimal, description: str) -> str:
    sku = stable_hex(0, service_code, *sorted(attributes.values()), length=16).upper()
    term = f"{sku}.JRTCKXETXF"
    rate_code = f"{term}.6YS6EN2CT7"
    document = {
        "product": {"productFamily": attributes.pop("productFamily"), "attributes": attributes, "sku": sku},
        "serviceCode": service_code,
        "terms": {
            "OnDemand": {
                term: {
                    "priceDimensions": {
                        rate_code: {
                            "unit": "Hrs",
                            "endRange": "Inf",
                            "description": description,
                            "appliesTo": [],
                            "rateCode": rate_code,
                            "beginRange": "0",
                            "pricePerUnit": {"USD": f"{price:.10f}"},
                        }
                    },
                    "sku": sku,
                    "effectiveDate": "2025-05-01T00:00:00Z",
                    "offerTermCode": "JRTCKXETXF",
                    "termAttributes": {},
                }
            }
        },
        "version": VERSION,
        "publicationDate": PUBLICATION,
    }
    return json.dumps(document, separators=(",", ":"))


def _ec2_products() -> list[tuple[dict[str, str], str]]:
    from sandbox.metrics import instance_facts

    products = []
    for instance_type, price in (rates.EC2_HOURLY | rates.EC2_CATALOGUE_HOURLY).items():
        vcpus, gpus = instance_facts(instance_type)[:2]
        for region, location in rates.REGION_NAMES.items():
            regional = rates.regional_price(price, region)
            for system, hourly in (("Linux", regional), ("Windows", regional + WINDOWS_SURCHARGE_PER_VCPU * vcpus)):
                usage = rates.usage_type(region, f"BoxUsage:{instance_type}", prefix_us_east_1=False)
                attributes = {
                    "productFamily": "Compute Instance",
                    "servicecode": "AmazonEC2",
                    "servicename": "Amazon Elastic Compute Cloud",
                    "instanceType": instance_type,
                    "instanceFamily": "GPU instance"
                    if gpus or instance_type.split(".")[0] in rates.GPU_FAMILIES
                    else "General",
                    "vcpu": str(vcpus),
                    "location": location,
                    "locationType": "AWS Region",
                    "regionCode": region,
                    "operatingSystem": system,
                    "tenancy": "Shared",
                    "preInstalledSw": "NA",
                    "licenseModel": "No License required",
                    "capacitystatus": "Used",
                    "usagetype": usage,
                    "operation": "RunInstances" if system == "Linux" else "RunInstances:0002",
                }
                description = f"${hourly} per On Demand {system} {instance_type} Instance Hour"
                products.append((attributes, _product("AmazonEC2", attributes.copy(), hourly, description)))
    return products


def _sagemaker_products() -> list[tuple[dict[str, str], str]]:
    products = []
    for component, (prefix, table) in SAGEMAKER_COMPONENTS.items():
        for instance_type, price in table.items():
            for region, location in rates.REGION_NAMES.items():
                hourly = rates.regional_price(price, region)
                attributes = {
                    "productFamily": "ML Instance",
                    "servicecode": "AmazonSageMaker",
                    "servicename": "Amazon SageMaker",
                    "instanceName": instance_type,
                    "component": component,
                    "location": location,
                    "locationType": "AWS Region",
                    "regionCode": region,
                    "usagetype": rates.usage_type(region, f"{prefix}:{instance_type}"),
                    "operation": "RunInstance",
                }
                description = f"${hourly} per {component} {instance_type} hour in {location}"
                products.append((attributes, _product("AmazonSageMaker", attributes.copy(), hourly, description)))
    return products


@cache
def price_list() -> dict[str, list[tuple[dict[str, str], str]]]:
    """{service code: [(attributes, PriceList JSON string)]}."""
    return {"AmazonEC2": _ec2_products(), "AmazonSageMaker": _sagemaker_products()}


def _matches(attributes: dict[str, str], filters: list[dict]) -> bool:
    for condition in filters:
        kind, name, value = condition["Type"], condition["Field"], condition["Value"]
        actual = attributes.get(name)
        if kind in ("TERM_MATCH", "EQUALS"):
            if actual is None or actual.lower() != value.lower():
                return False
        elif kind == "CONTAINS":
            if actual is None or value.lower() not in actual.lower():
                return False
        elif kind in ("ANY_OF", "NONE_OF"):
            options = {option.strip().lower() for option in value.split(",")}
            if (actual is not None and actual.lower() in options) != (kind == "ANY_OF"):
                return False
    return True


def get_products(request: dict) -> dict:
    products = price_list().get(request.get("ServiceCode", ""))
    if products is None:
        raise AwsError("NotFoundException", f"Service code {request.get('ServiceCode')} is not in the price list")
    if request.get("FormatVersion", "aws_v1") != "aws_v1":
        raise AwsError("InvalidParameterException", "FormatVersion must be aws_v1")
    matching = [text for attributes, text in products if _matches(attributes, request.get("Filters", []))]
    size = request.get("MaxResults") or DEFAULT_PAGE_SIZE
    token = request.get("NextToken")
    try:
        offset = int(token.removeprefix("products-")) if token else 0
    except ValueError as error:
        raise AwsError("InvalidNextTokenException", "The NextToken is not valid") from error
    response: dict = {"FormatVersion": "aws_v1", "PriceList": matching[offset : offset + size]}
    if offset + size < len(matching):
        response["NextToken"] = f"products-{offset + size}"
    return response
