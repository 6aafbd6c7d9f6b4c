from django.contrib import admin

from finops.models import CloudAccount, IngestionRun, Team, TeamMembership, WorkerHeartbeat


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
