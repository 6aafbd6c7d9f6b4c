"""Capacity reads of prices: the stored on-demand price of an instance type or of each resource."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Q

from capacity.models import Price, Resource


def price_for(*, region: str, instance_type: str, component: str = "") -> Price | None:
    """The stored on-demand price (EC2 Linux shared, or the SageMaker component); None if never fetched."""
    prices = Price.objects.filter(region=region, instance_type=instance_type)
    if instance_type.startswith("ml."):
        return prices.filter(service=Price.Service.SAGEMAKER, component=component or "Hosting").first()
    return prices.filter(service=Price.Service.EC2, operating_system="Linux", tenancy="Shared").first()


PRICE_COMPONENTS = {
    Resource.Kind.SAGEMAKER_ENDPOINT: "Hosting",
    Resource.Kind.SAGEMAKER_NOTEBOOK: "Notebook",
    Resource.Kind.SAGEMAKER_TRAINING_JOB: "Training",
}


def resource_prices(*, resources: Iterable[Resource]) -> dict[int, Price | None]:
    """{resource id: its stored on-demand price per instance-hour, None if never fetched}, in one query.

    The same price price_for finds: EC2 Linux shared tenancy, or the SageMaker component of the resource's kind.
    """
    resources = [resource for resource in resources if resource.instance_type]
    found: dict[tuple[str, str, str, str], Price] = {}
    if resources:
        prices = Price.objects.filter(
            region__in={resource.region for resource in resources},
            instance_type__in={resource.instance_type for resource in resources},
        ).filter(Q(service=Price.Service.SAGEMAKER) | Q(operating_system="Linux", tenancy="Shared"))
        found = {(price.service, price.region, price.instance_type, price.component): price for price in prices}
    answer: dict[int, Price | None] = {}
    for resource in resources:
        if resource.instance_type.startswith("ml."):
            key = (Price.Service.SAGEMAKER, resource.region, resource.instance_type,
                   PRICE_COMPONENTS.get(resource.kind, "Hosting"))  # fmt: skip
        else:
            key = (Price.Service.EC2, resource.region, resource.instance_type, "")
        answer[resource.pk] = found.get(key)
    return answer
