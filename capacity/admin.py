from django.contrib import admin

from capacity.models import (
    Action,
    ActionTransition,
    CollectionRun,
    InstanceTypeInfo,
    Policy,
    Price,
    Recommendation,
    RecommendationTransition,
    Resource,
    ServiceQuota,
    TeamSettings,
)


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


class RecommendationTransitionInline(admin.TabularInline):
    model = RecommendationTransition
    extra = 0
    can_delete = False
    readonly_fields = [field.name for field in RecommendationTransition._meta.fields]


@admin.register(Recommendation)
class RecommendationAdmin(admin.ModelAdmin):
    """Read-only: decisions go through the approval services (the page or the API), which audit them."""

    list_display = ["resource", "team", "source", "kind", "state", "monthly_savings"]
    list_filter = ["state", "source", "kind", "team"]
    inlines = [RecommendationTransitionInline]

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_add_permission(self, request) -> bool:
        return False


class ActionTransitionInline(admin.TabularInline):
    model = ActionTransition
    extra = 0
    can_delete = False
    readonly_fields = [field.name for field in ActionTransition._meta.fields]


@admin.register(Action)
class ActionAdmin(admin.ModelAdmin):
    """Read-only: actions move only through the execution state machine."""

    list_display = ["resource", "team", "state", "dry_run"]
    list_filter = ["state", "dry_run", "team"]
    inlines = [ActionTransitionInline]

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(TeamSettings)
class TeamSettingsAdmin(admin.ModelAdmin):
    list_display = ["team", "maintenance_window"]


@admin.register(Policy)
class PolicyAdmin(admin.ModelAdmin):
    """Read-only: policies are edited through the API and pages, whose service validates the schedule grammar."""

    list_display = ["name", "action", "trigger", "enabled", "dry_run", "include_prod", "grace_minutes", "updated_at"]
    list_filter = ["action", "trigger", "enabled", "dry_run"]
    search_fields = ["name", "description"]
    readonly_fields = [field.name for field in Policy._meta.fields] + ["accounts"]

    def has_add_permission(self, request) -> bool:
        return False
