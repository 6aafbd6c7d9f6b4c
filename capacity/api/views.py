from __future__ import annotations

from rest_framework import viewsets

from capacity.api.serializers import (
    CollectionRunSerializer,
    InstanceTypeInfoSerializer,
    PriceSerializer,
    ResourceSerializer,
    ServiceQuotaSerializer,
)
from capacity.filtersets import InstanceTypeInfoFilterSet, PriceFilterSet, ResourceFilterSet, ServiceQuotaFilterSet
from capacity.models import CollectionRun, InstanceTypeInfo, Price, Resource, ServiceQuota
from config.api import StrictQueryParams


class ResourceViewSet(StrictQueryParams, viewsets.ReadOnlyModelViewSet):
    """Inventoried machines: EC2 instances, Auto Scaling groups, EKS node groups, SageMaker resources."""

    queryset = Resource.objects.select_related("account", "team", "type_info")
    serializer_class = ResourceSerializer
    filterset_class = ResourceFilterSet


class InstanceTypeViewSet(StrictQueryParams, viewsets.ReadOnlyModelViewSet):
    """Instance type facts from DescribeInstanceTypes (vCPUs, memory, GPUs)."""

    queryset = InstanceTypeInfo.objects.all()
    serializer_class = InstanceTypeInfoSerializer
    filterset_class = InstanceTypeInfoFilterSet
    lookup_field = "instance_type"
    lookup_value_regex = r"[a-z0-9.\-]+"


class PriceViewSet(StrictQueryParams, viewsets.ReadOnlyModelViewSet):
    """On-demand hourly prices from the AWS Pricing API; `missing` ones have no amount."""

    queryset = Price.objects.all()
    serializer_class = PriceSerializer
    filterset_class = PriceFilterSet


class ServiceQuotaViewSet(StrictQueryParams, viewsets.ReadOnlyModelViewSet):
    """GPU-relevant Service Quotas per account and region, with the usage Costplane counted."""

    queryset = ServiceQuota.objects.select_related("account")
    serializer_class = ServiceQuotaSerializer
    filterset_class = ServiceQuotaFilterSet


class CollectionRunViewSet(StrictQueryParams, viewsets.ReadOnlyModelViewSet):
    queryset = CollectionRun.objects.select_related("account")
    serializer_class = CollectionRunSerializer
    filterset_fields = ["kind", "status", "region"]
