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

from finops.allocation import allocate, tag_coverage, untagged_resources
from finops.reports import (
    COST_BASES,
    STEPS,
    ReportQueryError,
    money_sum,
    money_text,
    report_query_parse,
    window_parse,
)
from finops.selectors.allocation_rules import allocation_rules_current
from finops.selectors.allocations import allocation_rows_frame
from finops.selectors.costs import ReportDataError, cost_rows
from finops.selectors.reconciliation import reconciliation_rows


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
    cost = serializers.CharField(help_text="Decimal string at full stored precision.")


class WindowSerializer(serializers.Serializer):
    start = serializers.DateField()
    end = serializers.DateField(help_text="Exclusive.")


class ReportSerializer(serializers.Serializer):
    window = WindowSerializer()
    aggregate = serializers.ListField(child=serializers.CharField())
    cost_basis = serializers.ChoiceField(choices=COST_BASES)
    step = serializers.ChoiceField(choices=STEPS, allow_null=True)
    currency = serializers.CharField()
    total = serializers.CharField()
    items = ReportItemSerializer(many=True)


REPORT_PARAMETERS = [
    OpenApiParameter("window", str, description="7d, 30d, mtd, lastmonth, or YYYY-MM-DD,YYYY-MM-DD (end exclusive)."),
    OpenApiParameter(
        "aggregate",
        str,
        description="Comma-separated: account, service, region, usage_type, resource, charge_category, tag:KEY.",
    ),  # fmt: skip
    OpenApiParameter("cost_basis", str, enum=list(COST_BASES)),
    OpenApiParameter("step", str, enum=list(STEPS)),
    OpenApiParameter("account", str, many=True),
    OpenApiParameter("service", str, many=True),
    OpenApiParameter("region", str, many=True),
    OpenApiParameter("charge_category", str, many=True),
    OpenApiParameter("format", str, enum=["json", "csv"]),
]


def report_envelope(query, rows) -> dict:
    currencies = {row.currency for row in rows}
    if len(currencies) > 1:
        raise ReportDataError("aggregate", f"The rows are in several currencies ({', '.join(sorted(currencies))}).")
    items = []
    for row in rows:
        item = {"key": row.key, "cost": money_text(row.cost)}
        if query.step:
            item["period"] = row.period.isoformat()
        items.append(item)
    return {
        "window": {"start": query.start.isoformat(), "end": query.end.isoformat()},
        "aggregate": list(query.aggregate),
        "cost_basis": query.cost_basis,
        "step": query.step,
        "currency": currencies.pop() if currencies else "USD",
        "total": money_text(money_sum(row.cost for row in rows)),
        "items": items,
    }


def frame_envelope(query, records: list[dict], *, currency: str, money_fields: list[str], extra: dict) -> dict:
    """The envelope of a report computed on DataFrames: `records` hold the keys, the period and the money fields.

    `cost` is the field that sums to `total`; a money field may be None (unknown), written as null.
    """
    items = [
        {
            "key": {key: record[key] for key in query.aggregate},
            **({"period": record["period"].isoformat()} if query.step else {}),
            **{name: None if record[name] is None else money_text(record[name]) for name in money_fields},
        }
        for record in records
    ]
    return {
        "window": {"start": query.start.isoformat(), "end": query.end.isoformat()},
        "aggregate": list(query.aggregate),
        "cost_basis": query.cost_basis,
        "step": query.step,
        "currency": currency,
        **extra,
        "total": money_text(money_sum(record["cost"] for record in records)),
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


class CostReportView(APIView):
    """Cost as stored (tags as written), aggregated by the requested keys and step."""

    renderer_classes = [JSONRenderer, ReportCSVRenderer]

    @extend_schema(parameters=REPORT_PARAMETERS, responses={200: ReportSerializer, 400: OpenApiTypes.OBJECT})
    def get(self, request):
        try:
            query = report_query_parse(dict(request.query_params.lists()), today=timezone.now().date())
            body = report_envelope(query, cost_rows(query=query))
        except ReportQueryError as error:
            return Response({"errors": error.errors}, status=400)
        except ReportDataError as error:
            return Response({"errors": {error.param: [str(error)]}}, status=400)
        return report_response(request, body, name="costs")


class ReconciliationView(APIView):
    """Per account and day: Cost Explorer vs export vs stored totals. `mismatches=true` keeps only disagreements."""

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


class AllocationReportView(APIView):
    """Cost after the allocation rules: tag rules, then shared-cost splits (`shared_cost` is each item's part).

    `idle_cost` is the part of `cost` paid for GPU capacity left unused; finops has no utilisation, so
    here it is always 0 and capacity's subclass (the one routed) fills it in.
    """

    renderer_classes = [JSONRenderer, ReportCSVRenderer]

    def idle_frame(self, query):
        """Billing lines' idle GPU parts (finops.allocation.idle_costs) in ROW_COLUMNS, or None."""
        return None

    @extend_schema(parameters=REPORT_PARAMETERS, responses={200: ReportSerializer, 400: OpenApiTypes.OBJECT})
    def get(self, request):
        try:
            query = report_query_parse(dict(request.query_params.lists()), today=timezone.now().date())
            version, rules = allocation_rules_current()
            frame, currency = allocation_rows_frame(query=query)
            items = allocate(frame, aggregate=query.aggregate, rules=rules, idle=self.idle_frame(query))
        except ReportQueryError as error:
            return Response({"errors": error.errors}, status=400)
        except ReportDataError as error:
            return Response({"errors": {error.param: [str(error)]}}, status=400)
        body = frame_envelope(
            query,
            items.to_dict("records"),
            currency=currency,
            money_fields=["cost", "shared_cost", "idle_cost"],
            extra={"rules_version": version},
        )
        return report_response(request, body, name="allocations")


class TagCoverageView(APIView):
    """Share of usage cost carrying a tag key (after the rules), by day and account; the top untagged resources."""

    @extend_schema(
        parameters=[
            REPORT_PARAMETERS[0],
            OpenApiParameter("key", str, required=True, description="Tag key, e.g. team"),
        ],
        responses={200: OpenApiTypes.OBJECT, 400: OpenApiTypes.OBJECT},
    )
    def get(self, request):
        key = (request.query_params.get("key") or "").strip()
        params = {"window": [request.query_params.get("window", "30d")], "step": ["day"]}
        try:
            if not key:
                raise ReportQueryError({"key": ["Name the tag key, for example key=team."]})
            query = report_query_parse(params, today=timezone.now().date())
            version, rules = allocation_rules_current()
            frame, currency = allocation_rows_frame(query=query)
        except ReportQueryError as error:
            return Response({"errors": error.errors}, status=400)
        coverage = tag_coverage(frame, key=key, rules=rules)
        resources = untagged_resources(frame, key=key, rules=rules)
        return Response(
            {
                "window": {"start": query.start.isoformat(), "end": query.end.isoformat()},
                "key": key,
                "rules_version": version,
                "currency": currency,
                "by_day_account": [
                    {
                        "day": record["period"].isoformat(),
                        "account": record["account"],
                        "cost": money_text(record["cost"]),
                        "tagged_cost": money_text(record["tagged_cost"]),
                        "coverage": None if record["coverage"] is None else money_text(record["coverage"]),
                    }
                    for record in coverage.to_dict("records")
                ],
                "top_untagged_resources": [
                    {
                        **{name: record[name] for name in ("resource", "account", "service")},
                        "cost": money_text(record["cost"]),
                    }
                    for record in resources.to_dict("records")
                ],
            }
        )
