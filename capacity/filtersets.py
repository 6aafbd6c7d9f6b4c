from __future__ import annotations

import django_filters

from capacity.models import Action, InstanceTypeInfo, Policy, Price, Recommendation, Resource, ServiceQuota

# Compute Optimizer's performance risk runs from 0 (very low) to 4 (very high); a level is its whole part.
RISK_WORDS = ("very low", "low", "medium", "high", "very high")
RISK_NONE = "none"
RISK_CHOICES = [(str(level), f"{level} of 4 ({word})") for level, word in enumerate(RISK_WORDS)] + [
    (RISK_NONE, "Not stated")
]


class ResourceFilterSet(django_filters.FilterSet):
    account = django_filters.CharFilter(field_name="account__account_id", label="12-digit account id")
    team = django_filters.CharFilter(field_name="team__slug", label="Team slug")
    gpu = django_filters.BooleanFilter(method="filter_gpu", label="Has GPUs or other accelerators")
    gone = django_filters.BooleanFilter(field_name="gone_at", lookup_expr="isnull", exclude=True, label="Gone")
    instance_type = django_filters.CharFilter()
    name = django_filters.CharFilter(lookup_expr="icontains")

    class Meta:
        model = Resource
        fields = ["account", "region", "kind", "team", "gpu", "gone", "instance_type", "state", "name"]

    def filter_gpu(self, queryset, name, value):
        if value is None:
            return queryset
        accelerated = queryset.filter(type_info__gpu_count__gt=0)
        return accelerated if value else queryset.exclude(pk__in=accelerated.values("pk"))


class InstanceTypeInfoFilterSet(django_filters.FilterSet):
    gpu = django_filters.BooleanFilter(method="filter_gpu", label="Has GPUs or other accelerators")

    class Meta:
        model = InstanceTypeInfo
        fields = ["instance_type", "accelerator_kind", "gpu_model", "gpu"]

    def filter_gpu(self, queryset, name, value):
        return queryset.filter(gpu_count__gt=0) if value else queryset.filter(gpu_count=0)


class PriceFilterSet(django_filters.FilterSet):
    class Meta:
        model = Price
        fields = ["service", "region", "instance_type", "component", "missing", "fetched_on"]


class ServiceQuotaFilterSet(django_filters.FilterSet):
    account = django_filters.CharFilter(field_name="account__account_id", label="12-digit account id")

    class Meta:
        model = ServiceQuota
        fields = ["account", "region", "service_code", "quota_code"]


class PolicyFilterSet(django_filters.FilterSet):
    name = django_filters.CharFilter(lookup_expr="icontains")

    class Meta:
        model = Policy
        fields = ["name", "enabled", "dry_run", "action", "trigger"]


class RecommendationFilterSet(django_filters.FilterSet):
    account = django_filters.CharFilter(field_name="account__account_id", label="12-digit account id")
    team = django_filters.CharFilter(field_name="team__slug", label="Team slug")
    # Plain strings: a second enum named "kind" would collide with Resource's in the schema.
    kind = django_filters.CharFilter(label="rightsize or idle")
    risk = django_filters.ChoiceFilter(
        choices=RISK_CHOICES,
        method="filter_risk",
        label="Performance risk level: 0 (very low) to 4 (very high), the whole part of Compute Optimizer's score; "
        "none: the source states no risk (Costplane's own right-sizing)",
    )

    class Meta:
        model = Recommendation
        fields = ["state", "team", "kind", "source", "account", "region", "resource_type", "finding", "risk"]

    def filter_risk(self, queryset, name, value):
        if value == RISK_NONE:
            return queryset.filter(performance_risk__isnull=True)
        level = int(value)
        at_least = queryset.filter(performance_risk__gte=level)
        return at_least if level == len(RISK_WORDS) - 1 else at_least.filter(performance_risk__lt=level + 1)


class ActionFilterSet(django_filters.FilterSet):
    account = django_filters.CharFilter(field_name="account__account_id", label="12-digit account id")
    team = django_filters.CharFilter(field_name="team__slug", label="Team slug")
    kind = django_filters.CharFilter(label="rightsize, idle, stop, start, delete, recreate, scale_to_zero, restore")

    class Meta:
        model = Action
        fields = ["state", "team", "kind", "account", "region", "recommendation", "policy"]
