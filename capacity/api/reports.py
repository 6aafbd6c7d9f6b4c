"""Reports that need machines as well as money: allocations with idle GPU cost, and unit costs."""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.renderers import JSONRenderer
from rest_framework.views import APIView

from capacity.selectors.reports import allocation_report, unit_cost_report
from config.api import StrictQueryParams
from finops.api.reports import (
    REPORT_PARAMETERS,
    ReportCSVRenderer,
    ReportItemSerializer,
    ReportSerializer,
    estimated_ranges,
    frame_envelope,
    report_error_response,
    report_response,
)
from finops.reports import REPORT_PARAMS, ReportError


class UnitCostItemSerializer(ReportItemSerializer):
    cost_with_predictions = serializers.CharField(
        help_text="The serving cost of the endpoint-days with Invocations data (decimal string): "
        "cost_per_1000_predictions = cost_with_predictions x 1000 / predictions."
    )
    predictions = serializers.CharField(
        allow_null=True, help_text="Invocations counted (decimal string); null where no datapoint exists (unknown)."
    )
    cost_per_1000_predictions = serializers.CharField(
        allow_null=True, help_text="Decimal string to 10 fractional digits; null where predictions are unknown."
    )
    training_cost = serializers.CharField(help_text="The training jobs' cost (decimal string).")


class UnitCostReportSerializer(ReportSerializer):
    rules_version = serializers.IntegerField()
    training_total = serializers.CharField(help_text="The sum of the items' training_cost.")
    items = UnitCostItemSerializer(many=True)


class AllocationReportView(StrictQueryParams, APIView):
    """Cost after the allocation rules: tag rules, then shared-cost splits (`shared_cost` is each item's part);
    `idle_cost` is the part of `cost` paid for GPU capacity left unused (from the machines' GPU utilisation)."""

    renderer_classes = [JSONRenderer, ReportCSVRenderer]
    accepted_query_params = REPORT_PARAMS

    @extend_schema(parameters=REPORT_PARAMETERS, responses={200: ReportSerializer, 400: OpenApiTypes.OBJECT})
    def get(self, request):
        try:
            report = allocation_report(params=dict(request.query_params.lists()), today=timezone.now().date())
        except ReportError as error:
            return report_error_response(error)
        body = frame_envelope(
            report.query,
            report.items.to_dict("records"),
            currency=report.currency,
            money_fields=["cost", "shared_cost", "idle_cost"],
            extra={"rules_version": report.rules_version},
            estimated=estimated_ranges(report.query),
        )
        return report_response(request, body, name="allocations")


class UnitCostReportView(StrictQueryParams, APIView):
    """Cost per 1,000 predictions of each served model, and what training cost, by the requested keys.

    `cost` is serving cost (SageMaker endpoints' lines); items sum to `total`. `cost_with_predictions` is the part of
    it on endpoint-days with Invocations data, what `cost_per_1000_predictions` divides by `predictions`;
    `predictions` is null where no Invocations datapoint exists (unknown, not zero); `training_cost` is the
    training jobs' cost.
    """

    renderer_classes = [JSONRenderer, ReportCSVRenderer]
    accepted_query_params = REPORT_PARAMS

    @extend_schema(parameters=REPORT_PARAMETERS, responses={200: UnitCostReportSerializer, 400: OpenApiTypes.OBJECT})
    def get(self, request):
        try:
            report = unit_cost_report(params=dict(request.query_params.lists()), today=timezone.now().date())
        except ReportError as error:
            return report_error_response(error)
        records = report.items.to_dict("records")
        body = frame_envelope(
            report.query,
            records,
            currency=report.currency,
            money_fields=["cost", "cost_with_predictions", "predictions", "cost_per_1000_predictions", "training_cost"],
            extra={"rules_version": report.rules_version},
            totals={"training_cost": "training_total"},
            estimated=estimated_ranges(report.query),
        )
        return report_response(request, body, name="unit-costs")
