"""The Reports API (ARCHITECTURE.md): one envelope, JSON or CSV, exact decimal strings."""

from __future__ import annotations

import csv
import io

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import StrictQueryParams
from finops.reports import (
    COST_BASES,
    FILTERS,
    REPORT_PARAMS,
    STEPS,
    WINDOWS_RELATIVE,
    ReportError,
    money_round_to_total,
    money_text,
    window_parse,
)
from finops.selectors.billing_periods import estimated_day_ranges
from finops.selectors.reconciliation import reconciliation_rows
from finops.selectors.reports import CostReport, cost_report, tag_coverage_report


class ReportCSVRenderer(BaseRenderer):
    """The items as CSV: one column per key, then period, then the money fields."""

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
        keys = data["aggregate"]
        money = data.get("money_fields", ["cost"])
        writer.writerow([*keys, "period", *money])
        for item in data["items"]:
            writer.writerow([*(item["key"][key] for key in keys), item.get("period") or "", *(item[m] for m in money)])
        return buffer.getvalue().encode()


class ReportItemSerializer(serializers.Serializer):
    key = serializers.DictField(child=serializers.CharField())
    period = serializers.DateField(required=False, allow_null=True)
    cost = serializers.CharField(
        help_text="Decimal string: stored figures as stored, computed ones rounded half-even to 20 fractional digits "
        "so that the items still sum exactly to total."
    )


class WindowSerializer(serializers.Serializer):
    start = serializers.DateField()
    end = serializers.DateField(help_text="Exclusive.")


class ReportSerializer(serializers.Serializer):
    window = WindowSerializer()
    estimated = WindowSerializer(
        many=True,
        help_text="The days of the window whose billing period is still estimated (the source has not said final), "
        "merged into ranges; end exclusive.",
    )
    aggregate = serializers.ListField(child=serializers.CharField())
    cost_basis = serializers.ChoiceField(choices=COST_BASES)
    step = serializers.ChoiceField(choices=STEPS, allow_null=True)
    currency = serializers.CharField()
    total = serializers.CharField()
    items = ReportItemSerializer(many=True)


REPORT_PARAMETERS = [
    OpenApiParameter(
        "window", str, description=f"{', '.join(WINDOWS_RELATIVE)}, or YYYY-MM-DD,YYYY-MM-DD (UTC days, end exclusive)."
    ),
    OpenApiParameter(
        "aggregate",
        str,
        many=True,
        description="Comma-separated keys among account, service, region, usage_type, resource, charge_category, "
        "provider, invoice_issuer, tag:KEY (KEY up to 1,024 characters). Repeated: one key per value, so that a "
        "tag key holding a comma can be named.",
    ),
    OpenApiParameter("cost_basis", str, enum=list(COST_BASES)),
    OpenApiParameter("step", str, enum=list(STEPS)),
    OpenApiParameter("account", str, many=True),
    OpenApiParameter("service", str, many=True),
    OpenApiParameter("region", str, many=True),
    OpenApiParameter("charge_category", str, many=True),
    OpenApiParameter("provider", str, many=True, description="FOCUS ProviderName (AWS for CUR and Cost Explorer)."),
    OpenApiParameter(
        "currency",
        str,
        description="ISO 4217 billing currency. Required when the rows hold several: amounts are never converted.",
    ),
    OpenApiParameter("format", str, enum=["json", "csv"]),
]


def estimated_ranges(query) -> list[dict[str, str]]:
    """The envelope's `estimated`: the window's days still in an estimated billing period, as day ranges."""
    return [
        {"start": start.isoformat(), "end": end.isoformat()}
        for start, end in estimated_day_ranges(start=query.start, end=query.end)
    ]


def cost_envelope(report: CostReport, *, estimated: list[dict[str, str]] | None = None) -> dict:
    query = report.query
    costs, total = money_round_to_total([row.cost for row in report.rows])
    items = []
    for row, cost in zip(report.rows, costs, strict=True):
        item = {"key": row.key, "cost": money_text(cost)}
        if query.step:
            item["period"] = row.period.isoformat()
        items.append(item)
    return {
        "window": {"start": query.start.isoformat(), "end": query.end.isoformat()},
        "estimated": estimated or [],
        "aggregate": list(query.aggregate),
        "cost_basis": query.cost_basis,
        "step": query.step,
        "currency": report.currency,
        "total": money_text(total),
        "items": items,
    }


def report_error_response(error: ReportError) -> Response:
    """400 with {"errors": {PARAM: [message, ...]}} (ARCHITECTURE.md, "Reports API")."""
    return Response({"errors": error.errors}, status=400)


def frame_envelope(
    query,
    records: list[dict],
    *,
    currency: str,
    money_fields: list[str],
    extra: dict,
    totals: dict | None = None,
    estimated: list[dict[str, str]] | None = None,
) -> dict:
    """The envelope of a report computed on DataFrames: `records` hold the keys, the period and the money fields.

    `cost` is the field that sums to `total`; `totals` names other fields summed into an envelope field
    ({"training_cost": "training_total"}). Those fields' items are rounded with finops.reports.money_round_to_total
    (they sum to their total exactly); every other money field is rounded on its own (money_text). A money field
    may be None (unknown), written as null. `estimated`: the window's estimated days (`estimated_ranges`).
    """
    summed = {"cost": "total", **(totals or {})}
    rounded: dict[str, list] = {}
    envelope_totals: dict[str, str] = {}
    for field_name, total_name in summed.items():
        rounded[field_name], total = money_round_to_total([record[field_name] for record in records])
        envelope_totals[total_name] = money_text(total)
    items = [
        {
            "key": {key: record[key] for key in query.aggregate},
            **({"period": record["period"].isoformat()} if query.step else {}),
            **{
                name: None if value is None else money_text(value)
                for name in money_fields
                for value in [rounded[name][index] if name in rounded else record[name]]
            },
        }
        for index, record in enumerate(records)
    ]
    return {
        "window": {"start": query.start.isoformat(), "end": query.end.isoformat()},
        "estimated": estimated or [],
        "aggregate": list(query.aggregate),
        "cost_basis": query.cost_basis,
        "step": query.step,
        "currency": currency,
        **extra,
        **envelope_totals,
        "items": items,
        "money_fields": money_fields,
    }


def report_response(request, body: dict, *, name: str) -> Response:
    """The report as JSON, or as a CSV download named after the report and its window."""
    response = Response(body)
    if request.accepted_renderer.format == "csv":
        window = body["window"]
        response["Content-Disposition"] = f'attachment; filename="{name}-{window["start"]}-{window["end"]}.csv"'
    return response


class CostReportView(StrictQueryParams, APIView):
    """Cost as stored (tags as written), aggregated by the requested keys and step."""

    renderer_classes = [JSONRenderer, ReportCSVRenderer]
    accepted_query_params = REPORT_PARAMS

    @extend_schema(parameters=REPORT_PARAMETERS, responses={200: ReportSerializer, 400: OpenApiTypes.OBJECT})
    def get(self, request):
        try:
            report = cost_report(params=dict(request.query_params.lists()), today=timezone.now().date())
        except ReportError as error:
            return report_error_response(error)
        body = cost_envelope(report, estimated=estimated_ranges(report.query))
        return report_response(request, body, name="costs")


class ReconciliationView(StrictQueryParams, APIView):
    """Per account and day: Cost Explorer vs export vs stored totals. `mismatches=true` keeps only disagreements."""

    accepted_query_params = ("window", "account", "mismatches")

    @extend_schema(
        parameters=[
            REPORT_PARAMETERS[0],
            OpenApiParameter("account", str),
            OpenApiParameter("mismatches", bool, description="Only account-days that disagree (default true)."),
        ],
        responses={200: OpenApiTypes.OBJECT, 400: OpenApiTypes.OBJECT},
    )
    def get(self, request):
        try:
            start, end = window_parse(request.query_params.get("window", "30d"), today=timezone.now().date())
        except ValueError as error:
            return Response({"errors": {"window": [str(error)]}}, status=400)
        mismatches_only = request.query_params.get("mismatches", "true").lower() != "false"
        rows = reconciliation_rows(
            start=start,
            end=end,
            account_id=request.query_params.get("account") or None,
            mismatches_only=mismatches_only,
        )
        items = [
            {
                "account": row.account_id,
                "day": row.day.isoformat(),
                "source": row.source,
                "cost_explorer": None if row.cost_explorer is None else money_text(row.cost_explorer),
                "export": money_text(row.export),
                "stored": money_text(row.stored),
                "mismatch": row.mismatch,
            }
            for row in rows
        ]
        return Response(
            {
                "window": {"start": start.isoformat(), "end": end.isoformat()},
                "mismatches": sum(1 for row in rows if row.mismatch),
                "items": items,
            }
        )


class TagCoverageView(StrictQueryParams, APIView):
    """Share of usage cost carrying a tag key (after the rules), by day and account; the top untagged resources.

    The window, cost basis and filters are the Reports API's; the figures are per day whatever the step."""

    accepted_query_params = ("key", "window", "cost_basis", *FILTERS, "currency")

    @extend_schema(
        parameters=[
            OpenApiParameter("key", str, required=True, description="Tag key, e.g. team"),
            *(
                parameter
                for parameter in REPORT_PARAMETERS
                if parameter.name in ("window", "cost_basis", *FILTERS, "currency")
            ),
        ],
        responses={200: OpenApiTypes.OBJECT, 400: OpenApiTypes.OBJECT},
    )
    def get(self, request):
        params = dict(request.query_params.lists())
        try:
            report = tag_coverage_report(
                params={name: values for name, values in params.items() if name != "key"},
                key=request.query_params.get("key") or "",
                today=timezone.now().date(),
            )
        except ReportError as error:
            return report_error_response(error)
        query = report.query
        return Response(
            {
                "window": {"start": query.start.isoformat(), "end": query.end.isoformat()},
                "key": report.key,
                "rules_version": report.rules_version,
                "currency": report.currency,
                "by_day_account": [
                    {
                        "day": record["period"].isoformat(),
                        "account": record["account"],
                        "cost": money_text(record["cost"]),
                        "tagged_cost": money_text(record["tagged_cost"]),
                        "coverage": None if record["coverage"] is None else money_text(record["coverage"]),
                    }
                    for record in report.coverage.to_dict("records")
                ],
                "top_untagged_resources": [
                    {
                        **{name: record[name] for name in ("resource", "account", "service")},
                        "cost": money_text(record["cost"]),
                    }
                    for record in report.untagged.to_dict("records")
                ],
            }
        )
