from django.contrib import admin

from capacity.models import CollectionRun, InstanceTypeInfo, Price, Resource, ServiceQuota


@admin.register(Resource)
class ResourceAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "account", "region", "instance_type", "instance_count", "state", "team", "gone_at"]
    list_filter = ["kind", "region", "state", "team"]
    search_fields = ["resource_id", "name"]
    readonly_fields = [field.name for field in Resource._meta.fields]


@admin.register(InstanceTypeInfo)
class InstanceTypeInfoAdmin(admin.ModelAdmin):
    list_display = ["instance_type", "vcpus", "memory_mib", "accelerator_kind", "gpu_count", "gpu_model", "fetched_at"]
    search_fields = ["instance_type", "gpu_model"]


@admin.register(Price)
class PriceAdmin(admin.ModelAdmin):
    list_display = ["service", "region", "instance_type", "component", "hourly_usd", "missing", "fetched_on"]
    list_filter = ["service", "region", "missing"]
    search_fields = ["instance_type"]


@admin.register(ServiceQuota)
class ServiceQuotaAdmin(admin.ModelAdmin):
    list_display = ["name", "account", "region", "value", "usage", "fetched_at"]
    list_filter = ["service_code", "region"]


@admin.register(CollectionRun)
class CollectionRunAdmin(admin.ModelAdmin):
    list_display = ["id", "kind", "account", "region", "status", "requests", "started_at", "finished_at"]
    list_filter = ["kind", "status"]
    readonly_fields = [field.name for field in CollectionRun._meta.fields]
