from __future__ import annotations

from rest_framework import serializers

from finops.models import AllocationRulesVersion, CloudAccount, IngestionRun, Team


class TeamSerializer(serializers.ModelSerializer):
    class Meta:
        model = Team
        fields = ["id", "name", "slug", "tag_values"]


class CloudAccountSerializer(serializers.ModelSerializer):
    class Meta:
        model = CloudAccount
        fields = [
            "id",
            "account_id",
            "name",
            "role_arn",
            "external_id",
            "regions",
            "payer",
            "cost_explorer_enabled",
            "exports_enabled",
            "export_s3_uri",
            "inventory_enabled",
            "dry_run",
            "discovered",
            "created_at",
        ]
        read_only_fields = ["payer", "discovered", "created_at", "dry_run"]
        extra_kwargs = {"external_id": {"write_only": True}}

    def validate_export_s3_uri(self, value: str) -> str:
        if value and not value.startswith("s3://"):
            raise serializers.ValidationError("Use an s3://bucket/prefix URI.")
        return value


class IngestionRunSerializer(serializers.ModelSerializer):
    account_id = serializers.CharField(source="account.account_id", read_only=True, default=None)
    duration_seconds = serializers.FloatField(read_only=True)

    class Meta:
        model = IngestionRun
        fields = [
            "id",
            "account",
            "account_id",
            "source",
            "status",
            "window_start",
            "window_end",
            "location",
            "rows",
            "rows_inserted",
            "rows_deleted",
            "requests",
            "error",
            "detail",
            "created_at",
            "started_at",
            "finished_at",
            "duration_seconds",
        ]
        read_only_fields = fields


class IngestRequestSerializer(serializers.Serializer):
    source = serializers.ChoiceField(
        choices=[IngestionRun.Source.COST_EXPLORER, IngestionRun.Source.EXPORT],
        default=IngestionRun.Source.COST_EXPLORER,
    )


class AllocationRulesVersionSerializer(serializers.ModelSerializer):
    created_by = serializers.CharField(source="created_by.username", read_only=True, default=None)

    class Meta:
        model = AllocationRulesVersion
        fields = ["number", "document", "previous_document", "comment", "created_by", "created_at"]
        read_only_fields = ["number", "previous_document", "created_by", "created_at"]
