"""/api/v1/budgets: CRUD (operators and admins write; every role reads), each with its current period status."""

from __future__ import annotations

import re
from decimal import Decimal

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers, status, viewsets
from rest_framework.response import Response

from config.api import StrictQueryParams
from finops.models import Budget, BudgetThreshold, Team
from finops.permissions import IsOperatorOrReadOnly
from finops.reports import money_text
from finops.selectors.budgets import budget_status, budgets_listed
from finops.services.budgets import budget_create, budget_delete, budget_update


class BudgetThresholdSerializer(serializers.ModelSerializer):
    percent = serializers.DecimalField(max_digits=7, decimal_places=2, min_value=Decimal("0.01"))

    class Meta:
        model = BudgetThreshold
        fields = ["id", "percent", "kind"]
        read_only_fields = ["id"]


class ThresholdStatusSerializer(serializers.Serializer):
    threshold = serializers.IntegerField()
    percent = serializers.CharField()
    kind = serializers.CharField()
    amount = serializers.CharField(help_text="The spend at which it is reached (decimal string).")
    reached = serializers.BooleanField(help_text="The spend it compares with is at or above the amount now.")
    crossed_at = serializers.DateTimeField(allow_null=True, help_text="When its crossing this period was recorded.")


class BudgetStatusSerializer(serializers.Serializer):
    period_start = serializers.DateField()
    period_end = serializers.DateField(help_text="Exclusive.")
    actual = serializers.CharField(help_text="Spend of the period's complete days (decimal string).")
    forecast = serializers.CharField(help_text="Actual plus the forecast of the days left (decimal string).")
    method = serializers.ChoiceField(choices=["forecast", "run_rate"])
    percent_used = serializers.FloatField()
    forecast_percent = serializers.FloatField()
    thresholds = ThresholdStatusSerializer(many=True)
    thresholds_crossed = serializers.ListField(child=serializers.IntegerField(), help_text="Threshold ids.")


def budget_status_data(budget: Budget) -> dict:
    current = budget_status(budget=budget, today=timezone.now().date())
    return {
        "period_start": current.period_start,
        "period_end": current.period_end,
        "actual": money_text(current.actual),
        "forecast": money_text(current.forecast),
        "method": current.method,
        "percent_used": round(current.percent_used, 2),
        "forecast_percent": round(current.forecast_percent, 2),
        "thresholds": [
            {
                "threshold": item.threshold.pk,
                "percent": money_text(item.threshold.percent),
                "kind": item.threshold.kind,
                "amount": money_text(item.amount),
                "reached": item.reached,
                "crossed_at": item.crossing.crossed_at if item.crossing else None,
            }
            for item in current.thresholds
        ],
        "thresholds_crossed": [item.threshold.pk for item in current.crossed],
    }


class BudgetSerializer(serializers.ModelSerializer):
    team = serializers.SlugRelatedField(
        slug_field="slug", queryset=Team.objects.all(), required=False, allow_null=True,
        help_text="Team slug: only spend whose team tag has one of the team's values.",
    )  # fmt: skip
    amount = serializers.DecimalField(
        max_digits=38, decimal_places=20, min_value=Decimal("0.01"), coerce_to_string=True
    )
    thresholds = BudgetThresholdSerializer(many=True, required=False)
    status = serializers.SerializerMethodField()
    created_by = serializers.CharField(source="created_by.username", read_only=True, default=None)

    class Meta:
        model = Budget
        fields = [
            "id", "name", "team", "tag_key", "tag_value", "account_id", "service", "period", "amount", "currency",
            "cost_basis", "thresholds", "status", "created_by", "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = ["id", "status", "created_by", "created_at", "updated_at"]

    @extend_schema_field(BudgetStatusSerializer)
    def get_status(self, budget: Budget) -> dict:
        return BudgetStatusSerializer(budget_status_data(budget)).data

    def validate_thresholds(self, value: list[dict]) -> list[dict]:
        seen = set()
        for item in value:
            key = (item["percent"], item.get("kind", BudgetThreshold.Kind.ACTUAL))
            if key in seen:
                raise serializers.ValidationError(f"The {key[0]}% {key[1]} threshold is given twice.")
            seen.add(key)
        return value

    def validate_currency(self, value: str) -> str:
        code = (value or "").strip().upper()
        if not re.fullmatch(r"[A-Z]{3}", code):
            raise serializers.ValidationError(
                f"'{value}' is not an ISO 4217 currency code: give three letters, for example EUR."
            )
        return code

    def validate(self, data: dict) -> dict:
        tag_key = data.get("tag_key", getattr(self.instance, "tag_key", ""))
        tag_value = data.get("tag_value", getattr(self.instance, "tag_value", ""))
        if bool(tag_key) != bool(tag_value):
            raise serializers.ValidationError({"tag_value": ["Give both tag_key and tag_value, or neither."]})
        return data


class BudgetViewSet(StrictQueryParams, viewsets.ModelViewSet):
    """Budgets by name. Each carries `status`: its current period's actual and forecast spend (the forecast
    names its method: "forecast" or "run_rate") and which thresholds are crossed. Operators and admins write."""

    serializer_class = BudgetSerializer
    permission_classes = [IsOperatorOrReadOnly]

    def get_queryset(self):
        return budgets_listed().select_related("created_by")

    def _saved(self, call, *, status_code: int, **kwargs) -> Response:
        try:
            budget = call(**kwargs)
        except DjangoValidationError as error:
            return Response({"errors": error.message_dict}, status=status.HTTP_400_BAD_REQUEST)
        budget = self.get_queryset().get(pk=budget.pk)
        return Response(self.get_serializer(budget).data, status=status_code)

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return self._saved(
            budget_create, status_code=status.HTTP_201_CREATED, user=request.user, **serializer.validated_data
        )

    def update(self, request, *args, **kwargs):
        budget = self.get_object()
        serializer = self.get_serializer(budget, data=request.data, partial=kwargs.pop("partial", False))
        serializer.is_valid(raise_exception=True)
        return self._saved(budget_update, status_code=status.HTTP_200_OK, budget=budget, **serializer.validated_data)

    def destroy(self, request, *args, **kwargs):
        budget_delete(budget=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)
