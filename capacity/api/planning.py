"""Capacity planning API (ARCHITECTURE.md, "Capacity planning API"): GPU demand forecasts, the capacity plan and
what-if scenarios. Everyone with a role reads; operators write scenarios and ask for a recompute."""

from __future__ import annotations

import csv
import io

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from capacity.api.serializers import CapacityScenarioSerializer
from capacity.models import CapacityScenario
from capacity.selectors.capacity_plan import capacity_plan
from capacity.selectors.forecasts import ForecastQueryError, gpu_demand_forecast
from capacity.services.scenarios import ScenarioInputError, scenario_save
from capacity.tasks import gpu_demand_refresh
from config.api import StrictQueryParams
from finops.permissions import IsOperatorOrReadOnly

ERRORS = inline_serializer("PlanningErrors", {"errors": serializers.DictField(child=serializers.ListField())})
FORECAST_COLUMNS = ["day", "mean", "lower_80", "upper_80", "lower_95", "upper_95"]
PLAN_COLUMNS = [
    "account", "region", "quota_code", "quota_name", "unit", "limit", "reserved", "unused_reserved", "in_use_now",
    "headroom_now", "cross_date_median", "cross_date_p95", "request_by", "status",
]  # fmt: skip


class RowsCSVRenderer(BaseRenderer):
    """A JSON body's rows as CSV: the view names the list (`csv_rows`) and its columns (`csv_columns`)."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        view = (renderer_context or {}).get("view")
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        if isinstance(data, dict) and "errors" in data:
            writer.writerow(["parameter", "error"])
            for param, messages in data["errors"].items():
                for message in messages:
                    writer.writerow([param, message])
            return buffer.getvalue().encode()
        columns = view.csv_columns(data) if callable(view.csv_columns) else view.csv_columns
        writer.writerow(columns)
        for row in data.get(view.csv_rows, []):
            writer.writerow(["" if row.get(column) is None else row.get(column) for column in columns])
        return buffer.getvalue().encode()


class ForecastPointSerializer(serializers.Serializer):
    day = serializers.DateField()
    mean = serializers.CharField(help_text="The point forecast (median path), a decimal string.")
    lower_80 = serializers.CharField(required=False)
    upper_80 = serializers.CharField(required=False)
    lower_95 = serializers.CharField(required=False)
    upper_95 = serializers.CharField(required=False)


class HistoryPointSerializer(serializers.Serializer):
    day = serializers.DateField()
    value = serializers.CharField(allow_null=True, help_text="Null on a day without data (a gap).")


class GpuDemandForecastSerializer(serializers.Serializer):
    group = serializers.ChoiceField(choices=["fleet", "team", "gpu_family", "region"])
    value = serializers.CharField(allow_blank=True)
    metric = serializers.ChoiceField(choices=["gpu_hours", "peak_gpus"])
    model = serializers.CharField(help_text="The model the rolling-origin backtest chose.")
    generated_at = serializers.DateTimeField()
    levels = serializers.ListField(child=serializers.IntegerField())
    scenario = serializers.IntegerField(allow_null=True)
    scores = serializers.DictField(
        help_text='The chosen model\'s backtest scores: "mase", "snaive_mase" (seasonal naive\'s), "smape", '
        '"coverage_L" per level.'
    )
    fallback = serializers.CharField(allow_blank=True)
    history = HistoryPointSerializer(many=True)
    forecast = ForecastPointSerializer(
        many=True, help_text="Per day: mean and lower_L / upper_L for each requested level L."
    )


class GpuDemandForecastView(StrictQueryParams, APIView):
    """Daily GPU demand ahead for the fleet, a team, a GPU family (instance family: p4d, p5, g5, ...) or a region,
    with prediction intervals and the chosen model's backtest scores (MASE beside seasonal naive's).

    `levels=95` gives the 2.5th and 97.5th percentiles. The nightly forecast (180 days, levels 80, 90, 95) answers
    when it covers the request; a longer horizon or other levels are forecast on the spot (a few seconds).
    """

    renderer_classes = [JSONRenderer, RowsCSVRenderer]
    accepted_query_params = ("group", "value", "metric", "horizon", "levels", "scenario")
    csv_rows = "forecast"

    @staticmethod
    def csv_columns(data: dict) -> list[str]:
        levels = data.get("levels", [])
        return ["day", "mean", *(f"{side}_{level}" for level in levels for side in ("lower", "upper"))]

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "group", str, enum=["fleet", "team", "gpu_family", "region"], description="Default fleet."
            ),
            OpenApiParameter("value", str, description="The team, GPU family or region; none for the fleet."),
            OpenApiParameter("metric", str, enum=["gpu_hours", "peak_gpus"], description="Default gpu_hours."),
            OpenApiParameter("horizon", int, description="Days ahead, 1-366; default 180."),
            OpenApiParameter("levels", str, description="Comma-separated interval levels, 1-99; default 80,95."),
            OpenApiParameter("scenario", int, description="A scenario id: its multiplier and projects layered on."),
        ],
        responses={200: GpuDemandForecastSerializer, 400: ERRORS},
    )
    def get(self, request):
        try:
            body = gpu_demand_forecast(params=request.query_params)
        except ForecastQueryError as error:
            raise ValidationError(error.errors) from error
        response = Response(body)
        if request.accepted_renderer.format == "csv":
            response["Content-Disposition"] = (
                f'attachment; filename="gpu-demand-{body["group"]}-{body["value"] or "all"}-{body["metric"]}.csv"'
            )
        return response


class PlanItemSerializer(serializers.Serializer):
    account = serializers.CharField()
    region = serializers.CharField()
    service_code = serializers.CharField()
    quota_code = serializers.CharField()
    quota_name = serializers.CharField()
    unit = serializers.ChoiceField(choices=["vCPU", "instances"])
    limit = serializers.CharField()
    reserved = serializers.CharField(help_text="Capacity held by Capacity Reservations (Capacity Blocks too) today.")
    unused_reserved = serializers.CharField(help_text="Their part not in use, which still holds quota.")
    in_use_now = serializers.CharField(allow_null=True, help_text="Null before the first inventory.")
    headroom_now = serializers.CharField(allow_null=True, help_text="limit - in_use_now - unused_reserved.")
    cross_date_median = serializers.DateField(allow_null=True)
    cross_date_p95 = serializers.DateField(allow_null=True)
    request_by = serializers.DateField(allow_null=True, help_text="cross_date_p95 - lead_time_days.")
    status = serializers.ChoiceField(choices=["ok", "soon", "late", "over"])


class PlanScenarioSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    growth_multiplier = serializers.CharField()


class CapacityPlanSerializer(serializers.Serializer):
    generated_at = serializers.DateTimeField(allow_null=True, help_text="When the forecasts it reads were made.")
    lead_time_days = serializers.IntegerField()
    scenario = PlanScenarioSerializer(allow_null=True)
    items = PlanItemSerializer(many=True)


def plan_body(plan) -> dict:
    scenario = plan.scenario
    return {
        "generated_at": plan.generated_at,
        "lead_time_days": plan.lead_time_days,
        "scenario": None
        if scenario is None
        else {
            "id": scenario.pk,
            "name": scenario.name,
            "growth_multiplier": f"{scenario.growth_multiplier.normalize():f}",
        },
        "items": [item.as_dict() for item in plan.items],
    }


def scenario_param(value: str | None) -> CapacityScenario | None:
    """The scenario a `scenario` query parameter names (400 naming it when it is no scenario's id)."""
    if value in (None, ""):
        return None
    if not value.isdigit():
        raise ValidationError({"scenario": [f"{value!r} is not a scenario id."]})
    scenario = CapacityScenario.objects.filter(pk=int(value)).first()
    if scenario is None:
        raise ValidationError({"scenario": [f"There is no scenario {value}."]})
    return scenario


class CapacityPlanView(StrictQueryParams, APIView):
    """Each GPU quota of an account and region against its demand forecast: headroom now, when the median and the
    95th percentile cross the limit, and by when to request more (the p95 crossing minus the lead time).

    `scenario=ID` layers a what-if scenario on the forecast (growth multiplier and planned projects).
    """

    renderer_classes = [JSONRenderer, RowsCSVRenderer]
    accepted_query_params = ("scenario",)
    csv_rows = "items"
    csv_columns = PLAN_COLUMNS

    @extend_schema(
        parameters=[OpenApiParameter("scenario", int, description="A scenario id; omitted: the base forecast.")],
        responses={200: CapacityPlanSerializer, 400: ERRORS},
    )
    def get(self, request):
        plan = capacity_plan(scenario=scenario_param(request.query_params.get("scenario")))
        response = Response(plan_body(plan))
        if request.accepted_renderer.format == "csv":
            response["Content-Disposition"] = 'attachment; filename="capacity-plan.csv"'
        return response


class CapacityScenarioViewSet(StrictQueryParams, viewsets.ModelViewSet):
    """What-if scenarios: a growth multiplier on the forecast and planned projects (N GPUs of an instance type in a
    region from a date for some months, for a team). Operators write; everyone with a role reads."""

    queryset = CapacityScenario.objects.prefetch_related("projects").order_by("name")
    serializer_class = CapacityScenarioSerializer
    permission_classes = [IsOperatorOrReadOnly]

    def _write(self, request, *, partial: bool, scenario: CapacityScenario | None = None) -> Response:
        try:
            saved = scenario_save(data=request.data, partial=partial, scenario=scenario, user=request.user)
        except ScenarioInputError as error:
            return Response({"errors": error.errors}, status=400)
        body = CapacityScenarioSerializer(self.queryset.get(pk=saved.pk)).data
        return Response(body, status=status.HTTP_201_CREATED if scenario is None else status.HTTP_200_OK)

    @extend_schema(request=CapacityScenarioSerializer, responses={201: CapacityScenarioSerializer, 400: ERRORS})
    def create(self, request, *args, **kwargs) -> Response:
        return self._write(request, partial=False)

    @extend_schema(request=CapacityScenarioSerializer, responses={200: CapacityScenarioSerializer, 400: ERRORS})
    def update(self, request, *args, **kwargs) -> Response:
        return self._write(request, partial=kwargs.get("partial", False), scenario=self.get_object())

    @extend_schema(request=CapacityScenarioSerializer, responses={200: CapacityScenarioSerializer, 400: ERRORS})
    def partial_update(self, request, *args, **kwargs) -> Response:
        return self._write(request, partial=True, scenario=self.get_object())


class ForecastRefreshView(StrictQueryParams, APIView):
    """Recompute GPU demand, its forecasts and the quotas' forecasts now (as the nightly run does); operators."""

    permission_classes = [IsOperatorOrReadOnly]

    @extend_schema(
        request=None,
        responses={
            202: inline_serializer("ForecastRefreshQueued", {"task_id": serializers.CharField()}),
            403: ERRORS,
        },
    )
    def post(self, request):
        result = gpu_demand_refresh.delay()
        return Response({"task_id": result.id}, status=status.HTTP_202_ACCEPTED)
