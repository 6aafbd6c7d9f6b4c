"""GET /api/v1/billing-periods (ARCHITECTURE.md, "Currencies and billing periods") and the audited re-allocation of a
final period (POST /api/v1/billing-periods/reallocate, operators)."""

from __future__ import annotations

import django_filters
from django.core.validators import RegexValidator
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import StrictQueryParams
from finops.models import BillingPeriod, BillingRestatement, CostRecord
from finops.permissions import IsOperatorOrReadOnly
from finops.reports import money_text
from finops.selectors.billing_periods import billing_period_list
from finops.services.billing_periods import ReallocationError, billing_period_reallocate

SOURCES = CostRecord.Format.values
STATUSES = BillingPeriod.Status.values


# Plain strings with validators, not choice filters: enums named "status" or "source" would collide in the schema.
class BillingPeriodFilterSet(django_filters.FilterSet):
    status = django_filters.CharFilter(
        validators=[RegexValidator(f"^({'|'.join(STATUSES)})$", f"Choose one of {', '.join(STATUSES)}.")],
        label=" or ".join(STATUSES),
    )
    source = django_filters.CharFilter(
        validators=[RegexValidator(f"^({'|'.join(SOURCES)})$", f"Choose one of {', '.join(SOURCES)}.")],
        label=", ".join(SOURCES),
    )
    account = django_filters.CharFilter(
        field_name="billing_account_id", label="Billing account id, as the source writes it"
    )

    class Meta:
        model = BillingPeriod
        fields = ["status", "account", "source"]


@extend_schema_field(OpenApiTypes.STR)
class MoneyField(serializers.Field):
    """A decimal string at full stored precision (null when unknown)."""

    def to_representation(self, value):
        return None if value is None else money_text(value)


class BillingRestatementSerializer(serializers.ModelSerializer):
    total_before = MoneyField(allow_null=True, help_text="Σ billed cost before the delivery (decimal string).")
    total_after = MoneyField(allow_null=True, help_text="Σ billed cost after it (decimal string).")

    class Meta:
        model = BillingRestatement
        fields = ["detected_at", "total_before", "total_after", "lines_added", "lines_removed"]
        read_only_fields = fields


class BillingPeriodSerializer(serializers.ModelSerializer):
    source = serializers.CharField(read_only=True, help_text=", ".join(SOURCES))
    status = serializers.CharField(read_only=True, help_text=" or ".join(STATUSES))
    final_reason = serializers.CharField(
        read_only=True,
        allow_null=True,
        help_text="invoice (the source gave an invoice id) or age; null while estimated.",
    )
    total = MoneyField(allow_null=True, help_text="Σ billed cost (decimal string); null over several currencies.")
    invoice_ids = serializers.ListField(child=serializers.CharField(), read_only=True)
    restatements = BillingRestatementSerializer(many=True, read_only=True)

    class Meta:
        model = BillingPeriod
        fields = [
            "source",
            "billing_account_id",
            "billing_period_start",
            "billing_period_end",
            "status",
            "final_reason",
            "currency",
            "total",
            "invoice_ids",
            "restatements",
        ]
        read_only_fields = fields


class BillingPeriodViewSet(StrictQueryParams, mixins.ListModelMixin, viewsets.GenericViewSet):
    """Billing periods per (source, billing account, period start), newest first: estimated until the source says
    final (an invoice id; FOCUS before 1.2 by age), with the restatements of final ones."""

    serializer_class = BillingPeriodSerializer
    filterset_class = BillingPeriodFilterSet

    def get_queryset(self):
        return billing_period_list()


class ReallocateRequestSerializer(serializers.Serializer):
    source = serializers.CharField(help_text=", ".join(SOURCES))
    billing_account_id = serializers.CharField()
    billing_period_start = serializers.DateField()
    rules_version = serializers.IntegerField(
        required=False, min_value=0, help_text="Default: the rules version in force now (0: no rules)."
    )
    comment = serializers.CharField(required=False, allow_blank=True, max_length=500)


class ReallocateResponseSerializer(serializers.Serializer):
    period = BillingPeriodSerializer()
    rules_version_before = serializers.IntegerField(allow_null=True)
    rules_version_after = serializers.IntegerField()
    comment = serializers.CharField()
    created_by = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()


class BillingPeriodReallocateView(StrictQueryParams, APIView):
    """Allocate a final billing period under another rules version from now on (default: the current one).

    A final period's allocations stay computed under the rules version in force when it became final; this is the
    explicit, audited way to change that (operators)."""

    permission_classes = [IsOperatorOrReadOnly]

    @extend_schema(
        request=ReallocateRequestSerializer,
        responses={200: ReallocateResponseSerializer, 400: OpenApiTypes.OBJECT, 404: OpenApiTypes.OBJECT},
    )
    def post(self, request):
        params = ReallocateRequestSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        period = get_object_or_404(
            BillingPeriod,
            source=data["source"],
            billing_account_id=data["billing_account_id"],
            billing_period_start=data["billing_period_start"],
        )
        try:
            entry = billing_period_reallocate(
                period=period,
                user=request.user,
                rules_version=data.get("rules_version"),
                comment=data.get("comment", ""),
            )
        except ReallocationError as error:
            return Response({"errors": error.errors}, status=status.HTTP_400_BAD_REQUEST)
        period = billing_period_list().get(pk=period.pk)
        return Response(
            {
                "period": BillingPeriodSerializer(period).data,
                "rules_version_before": entry.rules_version_before,
                "rules_version_after": entry.rules_version_after,
                "comment": entry.comment,
                "created_by": entry.created_by.username if entry.created_by else None,
                "created_at": entry.created_at,
            }
        )
