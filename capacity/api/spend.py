"""GET /api/v1/forecasts/spend: monthly effective cost ahead per team or in total, with bands, beside AWS's forecast.

Reads the newest stored run (capacity.services.spend_forecast.spend_forecasts_refresh, nightly); before any run the
answer is 200 with no items, `generated_at` null and a `message` saying so (a read never computes a forecast nor
calls AWS: pages and the API read stored results).
"""

from __future__ import annotations

import csv
import io

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from capacity.selectors.spend_forecast import spend_forecasts_latest
from capacity.services.spend_forecast import BANDS, HORIZONS
from config.api import StrictQueryParams
from finops.api.reports import report_error_response
from finops.reports import ReportError, ReportQueryError, report_query_parse

AGGREGATES = ("team",)
NO_RUN_MESSAGE = (
    "No spend forecast has been computed yet: the nightly task capacity.tasks.spend_forecasts_refresh_task stores "
    "one (or run it now)."
)
POINT_FIELDS = ("mean", *BANDS)


class SpendForecastPointSerializer(serializers.Serializer):
    month = serializers.DateField(help_text="The month's first day.")
    mean = serializers.CharField(help_text="Decimal string, cents (an estimate).")
    lower_80 = serializers.CharField()
    upper_80 = serializers.CharField()
    lower_95 = serializers.CharField()
    upper_95 = serializers.CharField()
    actual_to_date = serializers.CharField(
        allow_null=True,
        required=False,
        help_text="The current month (the first point) only: its actual cost so far, included in every figure; "
        "null for the whole months after it.",
    )


class AwsSpendForecastSerializer(serializers.Serializer):
    account = serializers.CharField(help_text="The management account asked.")
    metric = serializers.CharField()
    start = serializers.DateField()
    end = serializers.DateField(help_text="Exclusive.")
    currency = serializers.CharField(allow_null=True)
    current_month_note = serializers.CharField()
    forecast = SpendForecastPointSerializer(many=True)


class SpendForecastItemSerializer(serializers.Serializer):
    key = serializers.DictField(
        child=serializers.CharField(),
        help_text='{} for the total (no aggregate); {"team": slug} per team (a team-tag value no Team claims stays '
        "as it is; untagged spend is __unallocated__).",
    )
    model = serializers.CharField(help_text="The daily model capacity.forecasting chose.")
    fallback = serializers.CharField(allow_null=True)
    band_method = serializers.CharField(
        help_text="backtest (rolling-origin monthly sums) or daily_sum (short history)."
    )
    forecast = SpendForecastPointSerializer(many=True)
    aws_forecast = AwsSpendForecastSerializer(
        allow_null=True, help_text="Cost Explorer GetCostForecast for the total where available, else null."
    )
    aws_forecast_unavailable = serializers.CharField(allow_null=True, help_text="Why aws_forecast is null (total).")


class SpendForecastSerializer(serializers.Serializer):
    generated_at = serializers.DateTimeField(allow_null=True)
    history = inline_serializer(
        "SpendForecastHistory",
        fields={"start": serializers.DateField(), "end": serializers.DateField(help_text="Exclusive.")},
        allow_null=True,
    )
    aggregate = serializers.ChoiceField(choices=AGGREGATES, allow_null=True)
    horizon = serializers.ChoiceField(choices=HORIZONS)
    cost_basis = serializers.CharField(help_text="Always effective.")
    currency = serializers.CharField(allow_null=True)
    message = serializers.CharField(allow_null=True)
    items = SpendForecastItemSerializer(many=True)


class SpendForecastCSVRenderer(BaseRenderer):
    """One row per item and month: key, month, our figures, then AWS's (empty where it has none)."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        if "errors" in data:
            writer.writerow(["parameter", "error"])
            for param, messages in data["errors"].items():
                for message in messages:
                    writer.writerow([param, message])
            return buffer.getvalue().encode()
        writer.writerow(["key", "month", *POINT_FIELDS, "actual_to_date", *(f"aws_{name}" for name in POINT_FIELDS)])
        for item in data["items"]:
            key = item["key"].get("team", "total")
            aws = {point["month"]: point for point in (item["aws_forecast"] or {}).get("forecast", [])}
            for point in item["forecast"]:
                theirs = aws.get(point["month"], {})
                writer.writerow(
                    [
                        key,
                        point["month"],
                        *(point[name] for name in POINT_FIELDS),
                        point.get("actual_to_date") or "",
                        *(theirs.get(name, "") for name in POINT_FIELDS),
                    ]
                )
        return buffer.getvalue().encode()


def _parse(params: dict[str, list[str]]) -> tuple[str | None, int, str | None]:
    """(aggregate, horizon, currency) or ReportQueryError naming each bad parameter; the currency through the
    Reports API's grammar (finops.reports), so it is checked as the reports check it."""
    errors: dict[str, list[str]] = {}
    aggregate = None
    values = [value.strip() for value in params.get("aggregate", []) if value.strip()]
    if len(values) > 1:
        errors["aggregate"] = ["Give aggregate once."]
    elif values and values[0] not in AGGREGATES:
        errors["aggregate"] = [f"'{values[0][:80]}' is not an aggregate here; use team, or leave it out for the total."]
    elif values:
        aggregate = values[0]
    horizon = 3
    given = params.get("horizon", [])
    if len(given) > 1:
        errors["horizon"] = ["Give horizon once."]
    elif given:
        if given[0].strip() not in {str(value) for value in HORIZONS}:
            choices = " or ".join(str(value) for value in HORIZONS)
            errors["horizon"] = [f"'{given[0][:40]}' is not a horizon; use {choices} (whole months)."]
        else:
            horizon = int(given[0])
    currency = None
    try:
        currency = report_query_parse({"currency": params.get("currency", [])}, today=timezone.now().date()).currency
    except ReportQueryError as error:
        errors.update(error.errors)
    if errors:
        raise ReportQueryError(errors)
    return aggregate, horizon, currency


def _item(row, horizon: int) -> dict:
    aws = row.aws_forecast
    if aws is not None:
        aws = {**aws, "forecast": aws.get("forecast", [])[: horizon + 1]}
    return {
        "key": {"team": row.key} if row.key else {},
        "model": row.model,
        "fallback": row.fallback or None,
        "band_method": (row.scores or {}).get("band_method", ""),
        "forecast": row.points[: horizon + 1],
        "aws_forecast": aws,
        "aws_forecast_unavailable": None if row.key else (row.scores or {}).get("aws_forecast_unavailable"),
    }


def spend_forecast_body(*, aggregate: str | None, horizon: int, currency: str | None) -> dict:
    """The response body (also what the Budgets page shows); raises finops.reports.ReportError."""
    stored = spend_forecasts_latest(currency=currency)
    rows = stored.teams if aggregate == "team" else [row for row in [stored.total] if row is not None]
    first = stored.rows[0] if stored.rows else None
    message = None
    if stored.generated_at is None:
        message = NO_RUN_MESSAGE
    elif not stored.rows:
        message = f"The newest spend forecast ({stored.generated_at:%Y-%m-%d %H:%M} UTC) holds no {currency} spend."
    return {
        "generated_at": stored.generated_at.isoformat() if stored.generated_at else None,
        "history": {"start": first.history_start.isoformat(), "end": first.history_end.isoformat()} if first else None,
        "aggregate": aggregate,
        "horizon": horizon,
        "cost_basis": "effective",
        "currency": stored.currency,
        "message": message,
        "items": [_item(row, horizon) for row in rows],
    }


class SpendForecastView(StrictQueryParams, APIView):
    """Monthly effective cost ahead, in total or per team, for the current month (actual to date plus the forecast of
    its remaining days) and the next 3 or 6 whole months, with 80% and 95% bands; `aws_forecast` is Cost Explorer's
    GetCostForecast of the same months (the total only) where available, else null. Figures are decimal strings
    rounded to cents. Bands come from rolling-origin backtests of monthly sums (capacity/services/spend_forecast.py).
    Several currencies in the stored run need `currency=` (400 naming it otherwise), as the reports do."""

    renderer_classes = [JSONRenderer, SpendForecastCSVRenderer]
    accepted_query_params = ("aggregate", "horizon", "currency")

    @extend_schema(
        parameters=[
            OpenApiParameter("aggregate", str, enum=list(AGGREGATES), description="team; omitted: the total."),
            OpenApiParameter("horizon", int, enum=list(HORIZONS), description="Whole months after the current one."),
            OpenApiParameter("currency", str, description="ISO 4217; required when the run holds several."),
            OpenApiParameter("format", str, enum=["json", "csv"]),
        ],
        responses={200: SpendForecastSerializer, 400: inline_serializer("SpendForecastErrors", fields={
            "errors": serializers.DictField(child=serializers.ListField(child=serializers.CharField()))
        })},
    )  # fmt: skip
    def get(self, request):
        try:
            aggregate, horizon, currency = _parse(dict(request.query_params.lists()))
            body = spend_forecast_body(aggregate=aggregate, horizon=horizon, currency=currency)
        except ReportError as error:
            return report_error_response(error)
        response = Response(body)
        if request.accepted_renderer.format == "csv":
            name = f"spend-forecast-{aggregate or 'total'}-{horizon}m.csv"
            response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response
