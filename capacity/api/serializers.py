from __future__ import annotations

from rest_framework import serializers

from capacity.models import (
    CapacityScenario,
    CollectionRun,
    InstanceTypeInfo,
    Price,
    Resource,
    ScenarioProject,
    ServiceQuota,
)


class InstanceTypeInfoSerializer(serializers.ModelSerializer):
    class Meta:
        model = InstanceTypeInfo
        fields = [
            "instance_type", "vcpus", "memory_mib", "accelerator_kind", "gpu_count", "gpu_model", "gpu_manufacturer",
            "gpu_memory_mib", "fetched_at",
        ]  # fmt: skip
        read_only_fields = fields


class ResourceSerializer(serializers.ModelSerializer):
    account_id = serializers.CharField(source="account.account_id", read_only=True)
    team = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    gpu = InstanceTypeInfoSerializer(source="type_info", read_only=True, allow_null=True)

    class Meta:
        model = Resource
        fields = [
            "id", "account_id", "region", "kind", "resource_id", "name", "instance_type", "instance_count", "gpu",
            "state", "tags", "team", "launched_at", "billable_seconds", "details", "first_seen", "last_seen",
            "gone_at",
        ]  # fmt: skip
        read_only_fields = fields


class PriceSerializer(serializers.ModelSerializer):
    hourly_usd = serializers.DecimalField(max_digits=38, decimal_places=20, coerce_to_string=True, allow_null=True)

    class Meta:
        model = Price
        fields = [
            "id", "service", "region", "instance_type", "operating_system", "tenancy", "component", "hourly_usd",
            "currency", "missing", "sku", "fetched_on",
        ]  # fmt: skip
        read_only_fields = fields


class ServiceQuotaSerializer(serializers.ModelSerializer):
    account_id = serializers.CharField(source="account.account_id", read_only=True)

    class Meta:
        model = ServiceQuota
        fields = [
            "id", "account_id", "region", "service_code", "quota_code", "name", "value", "unit", "usage", "adjustable",
            "fetched_at",
        ]  # fmt: skip
        read_only_fields = fields


class CollectionRunSerializer(serializers.ModelSerializer):
    account_id = serializers.CharField(source="account.account_id", read_only=True, default=None)

    class Meta:
        model = CollectionRun
        fields = [
            "id", "kind", "account_id", "region", "status", "window_start", "window_end", "requests", "counts",
            "error", "started_at", "finished_at",
        ]  # fmt: skip
        read_only_fields = fields


class ScenarioProjectSerializer(serializers.ModelSerializer):
    class Meta:
        model = ScenarioProject
        fields = ["id", "team", "instance_type", "region", "gpus", "start", "months", "account"]
        read_only_fields = ["id"]
        extra_kwargs = {"account": {"required": False, "help_text": "12-digit account it will run in (optional)."}}


class CapacityScenarioSerializer(serializers.ModelSerializer):
    growth_multiplier = serializers.DecimalField(
        max_digits=8, decimal_places=4, coerce_to_string=True, required=False,
        help_text="Every forecast path is multiplied by this (1 = the base forecast).",
    )  # fmt: skip
    projects = ScenarioProjectSerializer(many=True, required=False)

    class Meta:
        model = CapacityScenario
        fields = ["id", "name", "description", "growth_multiplier", "projects", "created_at", "updated_at"]
        read_only_fields = ["id", "created_at", "updated_at"]
