from django.contrib import admin

from finops.models import (
    Alert,
    CeleryTaskCount,
    Channel,
    CloudAccount,
    IngestionRun,
    Notification,
    Team,
    TeamMembership,
    WorkerHeartbeat,
)


class TeamMembershipInline(admin.TabularInline):
    model = TeamMembership
    extra = 1


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "tag_values"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [TeamMembershipInline]


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(admin.ModelAdmin):
    list_display = ["hostname", "seen_at"]


@admin.register(CloudAccount)
class CloudAccountAdmin(admin.ModelAdmin):
    list_display = ["account_id", "name", "payer", "cost_explorer_enabled", "exports_enabled", "dry_run", "discovered"]
    list_filter = ["cost_explorer_enabled", "exports_enabled", "dry_run", "discovered"]
    search_fields = ["account_id", "name"]


@admin.register(IngestionRun)
class IngestionRunAdmin(admin.ModelAdmin):
    list_display = ["id", "account", "source", "status", "window_start", "window_end", "rows", "requests", "created_at"]
    list_filter = ["source", "status"]
    readonly_fields = [field.name for field in IngestionRun._meta.fields]


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    list_display = ["name", "team", "webhook_url", "email", "events", "min_amount", "enabled"]
    list_filter = ["enabled", "team"]
    search_fields = ["name", "email", "webhook_url"]


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    """Read-only: alerts open and resolve from their sources (finops/services/alerts.py)."""

    list_display = ["id", "kind", "key", "state", "severity", "team", "title", "opened_at", "resolved_at"]
    list_filter = ["state", "kind", "severity"]
    search_fields = ["key", "title"]
    readonly_fields = [field.name for field in Alert._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["id", "event", "subject", "channel", "medium", "status", "attempts", "created_at"]
    list_filter = ["status", "medium", "event"]
    search_fields = ["subject", "error"]
    readonly_fields = [field.name for field in Notification._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(CeleryTaskCount)
class CeleryTaskCountAdmin(admin.ModelAdmin):
    list_display = ["task", "outcome", "count", "updated_at"]
    list_filter = ["outcome"]
    readonly_fields = [field.name for field in CeleryTaskCount._meta.fields]
