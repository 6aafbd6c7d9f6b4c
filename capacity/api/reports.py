"""Reports that need machines as well as money: allocations with idle GPU cost, and unit costs."""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from capacity.selectors.metering import gpu_hours_frame, gpu_resource_ids, unit_cost_report
from finops.allocation import ROW_COLUMNS, idle_costs
from finops.api.reports import (
    REPORT_PARAMETERS,
    AllocationReportView,
    ReportCSVRenderer,
    frame_envelope,
    report_response,
)
from finops.reports import ReportQueryError, money_sum, money_text, report_query_parse
from finops.selectors.allocations import resource_lines_frame
from finops.selectors.costs import ReportDataError


class AllocationWithIdleReportView(AllocationReportView):
    """/api/v1/allocations: `idle_cost` from the GPU utilisation of the machines the lines paid for."""

    def idle_frame(self, query):
        resource_ids = gpu_resource_ids()
        lines = resource_lines_frame(query=query, resource_ids=resource_ids)
        if lines.empty:
            return None
        hours = gpu_hours_frame(resource_ids=resource_ids, start=query.start, end=query.end)
        idle = lines.assign(cost=idle_costs(lines, hours))
        return idle[list(ROW_COLUMNS)]


class UnitCostReportView(APIView):
    """Cost per 1,000 predictions of each served model, and what training cost, by the requested keys.

    `cost` is serving cost (SageMaker endpoints' lines); items sum to `total`. `predictions` is null where
    no Invocations datapoint exists (unknown, not zero); `training_cost` is the training jobs' cost.
    """

    renderer_classes = [JSONRenderer, ReportCSVRenderer]

    @extend_schema(parameters=REPORT_PARAMETERS, responses={200: OpenApiTypes.OBJECT, 400: OpenApiTypes.OBJECT})
    def get(self, request):
        try:
            query = report_query_parse(dict(request.query_params.lists()), today=timezone.now().date())
            version, currency, items = unit_cost_report(query=query)
        except ReportQueryError as error:
            return Response({"errors": error.errors}, status=400)
        except ReportDataError as error:
            return Response({"errors": {error.param: [str(error)]}}, status=400)
        records = items.to_dict("records")
        body = frame_envelope(
            query,
            records,
            currency=currency,
            money_fields=["cost", "cost_with_predictions", "predictions", "cost_per_1000_predictions", "training_cost"],
            extra={
                "rules_version": version,
                "training_total": money_text(money_sum(record["training_cost"] for record in records)),
            },
        )
        return report_response(request, body, name="unit-costs")
