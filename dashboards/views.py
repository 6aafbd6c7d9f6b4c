from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.functional import cached_property
from django.views.generic import TemplateView
from django_tables2 import RequestConfig

from capacity.filtersets import ResourceFilterSet
from capacity.models import CollectionRun, Resource, UtilisationHour
from capacity.selectors import (
    collection_runs_latest,
    fleet_gpu_utilisation,
    gpu_fleet_summary,
    quotas_by_use,
    quotas_near_limit,
    resource_prices,
    resource_teams,
    resource_utilisation_hours,
    resources_listed,
    utilisation_averages,
)
from dashboards import charts
from dashboards.access import ViewerRequiredMixin
from dashboards.forms import (
    AllocationControlsForm,
    AllocationRulesForm,
    CloudAccountForm,
    allocation_key_default,
)
from dashboards.tables import (
    AllocationTable,
    GpuFleetTable,
    ResourceTable,
    ServiceQuotaTable,
    UntaggedResourcesTable,
    allocation_table_rows,
)
from finops.allocation import RulesError, allocate, tag_coverage, untagged_resources
from finops.models import AllocationRulesVersion, CostRecord
from finops.reports import ReportQueryError, money_sum, report_query_parse
from finops.roles import user_is_operator
from finops.selectors.allocation_rules import allocation_rules_current
from finops.selectors.allocations import allocation_rows_frame
from finops.selectors.costs import ReportDataError
from finops.selectors.ingestion import account_freshness_list
from finops.selectors.overview import overview_summary
from finops.selectors.reconciliation import reconciliation_rows
from finops.services.accounts import cloud_account_create
from finops.services.allocation_rules import allocation_rules_publish

# Shown as help next to the rules editor; tests check that it is a valid rules document.
RULES_EXAMPLE = {
    "fold_key_case": True,
    "aliases": {"env": "environment"},
    "value_mappings": [{"key": "environment", "from": "production", "to": "prod", "ignore_case": True}],
    "virtual_tags": [
        {"key": "team", "value": "research", "match": {"service": ["Amazon SageMaker"], "resource_pattern": "notebook"}}
    ],
    "shared_costs": [
        {
            "name": "Support",
            "match": {"service": ["AWS Support (Business)"]},
            "key": "tag:team",
            "method": "proportional",
        }
    ],
}


class OverviewView(ViewerRequiredMixin, TemplateView):
    template_name = "dashboards/overview.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        summary = overview_summary(today=timezone.now().date())
        context["summary"] = summary
        context["freshness"] = account_freshness_list()
        if summary.has_data:
            context["daily_chart"] = charts.to_html(charts.daily_spend_by_service(summary.daily_by_service))
        return context


class AllocationView(ViewerRequiredMixin, TemplateView):
    """Allocated cost by a key per period, tag coverage, and the allocation rules (operators publish new versions).

    One view, three renderings: the full page; the report fragment (chart and table) for the htmx controls;
    the tag coverage fragment (`?panel=coverage`), which the report loads with hx-trigger="load".
    """

    template_name = "dashboards/allocation.html"
    report_template = "dashboards/_allocation_report.html"
    coverage_template = "dashboards/_tag_coverage.html"
    history_length = 25

    def get(self, request, *args, **kwargs):
        if request.GET.get("panel") == "coverage":
            response = render(request, self.coverage_template, self.coverage_context(self.controls_form()))
        elif request.headers.get("HX-Request") and not request.headers.get("HX-History-Restore-Request"):
            response = render(request, self.report_template, self.report_context(self.controls_form()))
        else:
            response = super().get(request, *args, **kwargs)
        patch_vary_headers(response, ["HX-Request"])
        return response

    def post(self, request, *args, **kwargs):
        if not user_is_operator(request.user):
            raise PermissionDenied("Publishing allocation rules needs the operator or admin role.")
        form = AllocationRulesForm(request.POST)
        if form.is_valid():
            try:
                version = allocation_rules_publish(
                    document=form.cleaned_data["document"], user=request.user, comment=form.cleaned_data["comment"]
                )
            except RulesError as error:
                for path, problems in sorted(error.errors.items()):
                    for problem in problems:
                        form.add_error("document", f"{path}: {problem}")
            else:
                messages.success(request, f"Published allocation rules version {version.number}.")
                return redirect(f"{request.get_full_path()}#rules")
        return self.render_to_response(self.get_context_data(rules_form=form))

    def controls_form(self) -> AllocationControlsForm:
        data = {"window": "30d", "key": allocation_key_default(), "step": "week", "cost_basis": "billed"}
        data.update({name: value for name, value in self.request.GET.items() if name != "panel"})
        return AllocationControlsForm(data)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(self.report_context(self.controls_form()))
        versions = list(AllocationRulesVersion.objects.select_related("created_by")[: self.history_length])
        current = versions[0] if versions else None
        context.update(
            rules_current=current,
            rules_current_json=json.dumps(current.document if current else {}, indent=2, sort_keys=True),
            rules_history=versions,
            rules_example_json=json.dumps(RULES_EXAMPLE, indent=2),
            can_edit_rules=user_is_operator(self.request.user),
        )
        context.setdefault("rules_form", AllocationRulesForm(initial={"document": context["rules_current_json"]}))
        return context

    def report_context(self, form: AllocationControlsForm) -> dict:
        context = {"controls": form, "has_data": CostRecord.objects.exists(), "errors": _form_errors(form)}
        if context["errors"]:
            return context
        params = form.report_params()
        key = params["aggregate"]
        context.update(
            params=params,
            key=key,
            key_label=key[4:] if key.startswith("tag:") else key,
            is_tag_key=key.startswith("tag:"),
            csv_url=f"{reverse('report-allocations')}?{urlencode({**params, 'format': 'csv'})}",
            api_url=f"{reverse('report-allocations')}?{urlencode(params)}",
            coverage_url=f"{reverse('dashboards:allocation')}?{urlencode({**form.data, 'panel': 'coverage'})}",
        )
        if not context["has_data"]:
            return context
        try:
            query, version, rules, frame, currency = _allocation_input(params)
        except _ControlsError as error:
            context["errors"] = error.messages
            return context
        items = allocate(frame, aggregate=query.aggregate, rules=rules)
        rows = allocation_table_rows(items, key=key)
        context.update(
            query=query,
            last_day=query.end - timedelta(days=1),
            currency=currency,
            rules_version=version,
            total=money_sum(items["cost"]),
            shared_total=money_sum(items["shared_cost"]),
            table=AllocationTable(rows, key_label=context["key_label"].capitalize()),
            has_rows=bool(rows),
        )
        if rows:
            context["chart"] = charts.to_html(charts.allocation_by_period(items, key=key))
        return context

    def coverage_context(self, form: AllocationControlsForm) -> dict:
        context: dict = {"errors": _form_errors(form)}
        if context["errors"]:
            return context
        params = form.report_params()
        if not params["aggregate"].startswith("tag:"):
            return context
        tag_key = context["tag_key"] = params["aggregate"][4:]
        try:
            _, version, rules, frame, currency = _allocation_input({**params, "aggregate": "", "step": "day"})
        except _ControlsError as error:
            context["errors"] = error.messages
            return context
        coverage = tag_coverage(frame, key=tag_key, rules=rules)
        resources = untagged_resources(frame, key=tag_key, rules=rules, top=15)
        resources = resources[resources["cost"] != 0]  # a zero-cost line (e.g. an unused commitment) needs no tag
        usage_cost = money_sum(coverage["cost"])
        tagged_cost = money_sum(coverage["tagged_cost"])
        context.update(
            rules_version=version,
            currency=currency,
            has_usage=usage_cost > 0,
            untagged_cost=usage_cost - tagged_cost,
            coverage_percent=tagged_cost / usage_cost * 100 if usage_cost > 0 else None,
            resources=UntaggedResourcesTable(resources.to_dict("records")),
        )
        if not coverage.empty:
            context["chart"] = charts.to_html(charts.tag_coverage_by_day(coverage))
        return context


class _ControlsError(Exception):
    def __init__(self, messages_: list[str]):
        super().__init__(messages_)
        self.messages = messages_


def _form_errors(form: AllocationControlsForm) -> list[str]:
    return [] if form.is_valid() else [str(error) for errors in form.errors.values() for error in errors]


def _allocation_input(params: dict[str, str]):
    """What the Reports API reads for these parameters: the query, the current rules and the rows."""
    try:
        query = report_query_parse({name: [value] for name, value in params.items()}, today=timezone.now().date())
        version, rules = allocation_rules_current()
        frame, currency = allocation_rows_frame(query=query)
    except ReportQueryError as error:
        raise _ControlsError([message for messages_ in error.errors.values() for message in messages_]) from None
    except ReportDataError as error:
        raise _ControlsError([str(error)]) from None
    return query, version, rules, frame, currency


class UnitEconomicsView(ViewerRequiredMixin, TemplateView):
    template_name = "dashboards/unit_economics.html"


class CapacityView(ViewerRequiredMixin, TemplateView):
    """The GPU fleet, every inventoried resource with its 14-day utilisation and price, quotas and freshness.

    One view, several renderings: the full page; the resources panel (filters, table, pages) and the quotas panel
    for their htmx links and forms (by HX-Target); a resource's hourly utilisation chart (`?resource=<pk>`) for a
    clicked row, which the full page also shows when opened with that parameter.
    """

    template_name = "dashboards/capacity.html"
    resource_template = "dashboards/_capacity_resource.html"
    panel_templates = {
        "capacity-resources": "dashboards/_capacity_resources.html",
        "capacity-quotas": "dashboards/_capacity_quotas.html",
    }
    window = timedelta(days=14)
    resources_per_page = 25
    quotas_per_page = 10

    def get(self, request, *args, **kwargs):
        htmx = request.headers.get("HX-Request") and not request.headers.get("HX-History-Restore-Request")
        target = request.headers.get("HX-Target", "")
        if htmx and target == "resource-detail":
            response = render(request, self.resource_template, self.resource_context(request.GET.get("resource", "")))
        elif htmx and target in self.panel_templates:
            context = self.resources_context() if target == "capacity-resources" else self.quotas_context()
            response = render(request, self.panel_templates[target], context)
        else:
            response = super().get(request, *args, **kwargs)
        patch_vary_headers(response, ["HX-Request", "HX-Target"])
        return response

    @cached_property
    def window_bounds(self) -> tuple[datetime, datetime]:
        """[start, end) of the window: 14 days of complete UTC hours, ending where the current hour starts."""
        end = timezone.now().astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        return end - self.window, end

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["freshness_rows"], context["prices_run"] = capacity_freshness_rows(collection_runs_latest())
        context["has_inventory"] = Resource.objects.exists()
        if not context["has_inventory"]:
            return context
        start, end = context["window_start"], context["window_end"] = self.window_bounds
        summary = gpu_fleet_summary()
        context.update(
            fleet_table=GpuFleetTable(summary),
            total_gpus=sum(row["gpus"] for row in summary),
            running_gpus=sum(row["running_gpus"] for row in summary),
            neuron_devices=sum(row["gpus"] for row in summary if row["accelerator"] == "neuron"),
            fleet_utilisation=fleet_gpu_utilisation(start=start, end=end),
            **self.resources_context(),
            **self.quotas_context(),
        )
        if self.request.GET.get("resource"):
            context["detail"] = self.resource_context(self.request.GET["resource"])
        return context

    def resources_context(self) -> dict:
        """The resources panel: ResourceFilterSet over GET (gone resources only with ?gone=1), ordered, paginated."""
        start, end = self.window_bounds
        data = self.request.GET.copy()
        include_gone = data.pop("gone", [""])[-1] in ("1", "true", "on")
        if not include_gone:
            data["gone"] = "false"
        filterset = ResourceFilterSet(data, queryset=resources_listed())
        averages = {
            metric: utilisation_averages(start=start, end=end, metric=metric)
            for metric in (UtilisationHour.Metric.CPU, UtilisationHour.Metric.GPU)
        }
        table = ResourceTable(
            filterset.qs,
            detail_url=reverse("dashboards:capacity"),
            averages=averages,
            selected=self.request.GET.get("resource"),
        )
        RequestConfig(self.request, paginate={"per_page": self.resources_per_page}).configure(table)
        table.prices = resource_prices(resources=[row.record for row in table.page.object_list])
        return {
            "resources_table": table,
            "resource_filters": {name: self.request.GET.get(name, "") for name in ("kind", "team", "gpu", "name")},
            "include_gone": include_gone,
            "filter_errors": [f"{field}: {error}" for field, errors in filterset.errors.items() for error in errors],
            "kind_choices": Resource.Kind.choices,
            "team_choices": resource_teams(),
            "window_days": self.window.days,
        }

    def quotas_context(self) -> dict:
        near = set(quotas_near_limit().values_list("pk", flat=True))
        table = ServiceQuotaTable(quotas_by_use(), near=near, prefix="quotas-")
        RequestConfig(self.request, paginate={"per_page": self.quotas_per_page}).configure(table)
        return {"quotas_table": table, "quotas_near_count": len(near)}

    def resource_context(self, pk: str) -> dict:
        resource = resources_listed().filter(pk=pk).first() if pk.isdigit() else None
        if resource is None:
            raise Http404("No such resource.")
        start, end = self.window_bounds
        frame = resource_utilisation_hours(resource=resource, start=start, end=end)
        is_endpoint = resource.kind == Resource.Kind.SAGEMAKER_ENDPOINT
        invocations = frame[frame["metric"] == UtilisationHour.Metric.INVOCATIONS]
        measured = frame[frame["metric"] != UtilisationHour.Metric.INVOCATIONS]
        context = {
            "resource": resource,
            "window_start": start,
            "window_end": end,
            "window_days": self.window.days,
            "is_endpoint": is_endpoint,
            "has_utilisation": bool(measured["average"].notna().any()),
            "has_invocations": bool(invocations["total"].notna().any()),
            "price": resource_prices(resources=[resource]).get(resource.pk),
        }
        if context["has_utilisation"] or context["has_invocations"]:
            figure = charts.resource_utilisation(frame, start=start, end=end, invocations=is_endpoint)
            context["chart"] = charts.to_html(figure)
        return context


FRESHNESS_KINDS = (CollectionRun.Kind.INVENTORY, CollectionRun.Kind.UTILISATION, CollectionRun.Kind.QUOTAS)


def capacity_freshness_rows(runs: list[CollectionRun]) -> tuple[list[dict], CollectionRun | None]:
    """collection_runs_latest() as one row per account and region, in the order given, with its latest run of each
    of FRESHNESS_KINDS (None where none ran): {"account", "region", "runs": [...]}; and the latest prices run
    (prices are fetched for all accounts at once)."""
    rows: dict[tuple, dict] = {}
    prices = None
    for run in runs:
        if run.kind not in FRESHNESS_KINDS:
            prices = run if run.kind == CollectionRun.Kind.PRICES else prices
            continue
        row = rows.setdefault(
            (run.account_id, run.region), {"account": run.account, "region": run.region, "runs": [None] * 3}
        )
        row["runs"][FRESHNESS_KINDS.index(run.kind)] = run
    return list(rows.values()), prices


class RecommendationsView(ViewerRequiredMixin, TemplateView):
    template_name = "dashboards/recommendations.html"


class SchedulesView(ViewerRequiredMixin, TemplateView):
    template_name = "dashboards/schedules.html"


class AccountsView(ViewerRequiredMixin, TemplateView):
    """Cloud accounts with their data freshness; operators add accounts here."""

    template_name = "dashboards/accounts.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["freshness"] = account_freshness_list()
        context["can_edit"] = user_is_operator(self.request.user)
        context.setdefault("form", CloudAccountForm())
        return context

    def post(self, request, *args, **kwargs):
        if not user_is_operator(request.user):
            raise PermissionDenied("Adding accounts needs the operator or admin role.")
        form = CloudAccountForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                account = cloud_account_create(**data, exports_enabled=bool(data["export_s3_uri"]))
            except ValidationError as error:
                for field, problems in error.message_dict.items():
                    form.add_error(field if field in form.fields else None, problems)
            else:
                messages.success(request, f"Added account {account}.")
                return redirect("dashboards:accounts")
        return self.render_to_response(self.get_context_data(form=form))


class ReconciliationView(ViewerRequiredMixin, TemplateView):
    """Account-days where Cost Explorer, the export file and the stored rows disagree."""

    template_name = "dashboards/reconciliation.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        today = timezone.now().date()
        try:
            days = max(1, min(int(self.request.GET.get("days", 90)), 800))
        except ValueError:
            days = 90
        rows = reconciliation_rows(start=today - timedelta(days=days), end=today)
        context.update(days=days, checked=len(rows), mismatches=[row for row in rows if row.mismatch])
        return context
