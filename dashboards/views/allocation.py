"""The Allocation page: allocated cost by a key per period (the Reports API's /api/v1/allocations), tag coverage,
and the allocation rules with their history (operators publish new versions)."""

from __future__ import annotations

import json
from datetime import timedelta
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import QueryDict
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.views.generic import TemplateView

from capacity.selectors.reports import allocation_report
from dashboards.access import ViewerRequiredMixin
from dashboards.charts.allocation import allocation_by_period, tag_coverage_by_day
from dashboards.charts.base import to_html
from dashboards.forms.allocation import AllocationControlsForm, AllocationRulesForm, allocation_key_default
from dashboards.tables.allocation import (
    AllocationPeriodTable,
    AllocationTable,
    UntaggedResourcesTable,
    allocation_table_rows,
    period_buckets,
    period_table_rows,
    share_text,
)
from dashboards.templatetags.labels import account_label_text, account_names, enum_label
from dashboards.views.controls import form_errors
from dashboards.views.fragments import FragmentMixin
from finops.allocation.rules import RulesError
from finops.models import CostRecord
from finops.reports import ReportError, money_sum
from finops.roles import user_is_operator
from finops.selectors.allocation_rules import allocation_rules_history
from finops.selectors.billing import billing_filter_options, billing_rows_exist
from finops.selectors.reports import tag_coverage_report
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


class AllocationView(ViewerRequiredMixin, FragmentMixin, TemplateView):
    """Allocated cost by a key per period, tag coverage, and the allocation rules (operators publish new versions).

    One view, three renderings: the full page; the report fragment (chart and table) for the htmx controls;
    the tag coverage fragment (`?panel=coverage`), which the report loads with hx-trigger="load".
    """

    template_name = "dashboards/allocation.html"
    fragment_panels = {"coverage": ("dashboards/_tag_coverage.html", "coverage_fragment")}
    fragment_htmx = ("dashboards/_allocation_report.html", "report_fragment")
    fragment_vary = ("HX-Request",)
    history_length = 25

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

    def report_fragment(self) -> dict:
        return self.report_context(self.controls_form())

    def coverage_fragment(self) -> dict:
        return self.coverage_context(self.controls_form())

    def controls_form(self) -> AllocationControlsForm:
        data = QueryDict(mutable=True)
        data.update({"window": "30d", "key": allocation_key_default(), "step": "week", "cost_basis": "billed"})
        for name, values in self.request.GET.lists():
            if name != "panel":
                data.setlist(name, values)
        form = AllocationControlsForm(data)
        start, end = form.window_bounds(today=timezone.now().date())
        form.filter_options_set(billing_filter_options(start=start, end=end), account_names=account_names(self.request))
        return form

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(self.report_context(self.controls_form()))
        versions = list(allocation_rules_history()[: self.history_length])
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
        context = {"controls": form, "has_data": billing_rows_exist(), "errors": form_errors(form)}
        if context["errors"]:
            return context
        params = form.report_params()
        filters = form.report_filters()
        key = params["aggregate"]
        api_params = {**params, **filters}
        context.update(
            params=params,
            filters=filters,
            key=key,
            key_label=key[4:] if key.startswith("tag:") else key.replace("_", " "),
            is_tag_key=key.startswith("tag:"),
            csv_url=f"{reverse('report-allocations')}?{urlencode({**api_params, 'format': 'csv'}, doseq=True)}",
            api_url=f"{reverse('report-allocations')}?{urlencode(api_params, doseq=True)}",
            coverage_url=f"{reverse('dashboards:allocation')}?{_with_panel(form.data, 'coverage')}",
            clear_filters_url=f"{reverse('dashboards:allocation')}?{urlencode(params)}",
        )
        if not context["has_data"]:
            return context
        try:
            report = allocation_report(params={**_as_lists(params), **filters}, today=timezone.now().date())
        except ReportError as error:
            context["errors"] = error.messages
            return context
        query, items = report.query, report.items
        names = account_names(self.request)
        rows = allocation_table_rows(items, key=key)
        buckets = period_buckets(items, query=query)
        total = money_sum(items["cost"])
        idle_total = money_sum(items["idle_cost"])
        context.update(
            query=query,
            last_day=query.end - timedelta(days=1),
            currency=report.currency,
            rules_version=report.rules_version,
            total=total,
            shared_total=money_sum(items["shared_cost"]),
            idle_total=idle_total,
            idle_share=share_text(idle_total, total),
            table=AllocationTable(rows, key=key, key_label=context["key_label"].capitalize(), account_names=names),
            period_table=AllocationPeriodTable(period_table_rows(items, buckets=buckets)),
            partial_buckets=[bucket for bucket in buckets.values() if bucket.partial],
            has_rows=bool(rows),
            filter_labels=_filter_labels(filters, names),
        )
        if rows:
            context["chart"] = to_html(allocation_by_period(items, key=key, buckets=buckets, account_names=names))
        return context

    def coverage_context(self, form: AllocationControlsForm) -> dict:
        context: dict = {"errors": form_errors(form)}
        if context["errors"]:
            return context
        params = form.report_params()
        if not params["aggregate"].startswith("tag:"):
            return context
        tag_key = context["tag_key"] = params["aggregate"][4:]
        try:
            report = tag_coverage_report(
                params={**_as_lists(params), **form.report_filters()}, key=tag_key, today=timezone.now().date(), top=15
            )
        except ReportError as error:
            context["errors"] = error.messages
            return context
        coverage, resources = report.coverage, report.untagged
        resources = resources[resources["cost"] != 0]  # a zero-cost line (e.g. an unused commitment) needs no tag
        usage_cost = money_sum(coverage["cost"])
        tagged_cost = money_sum(coverage["tagged_cost"])
        context.update(
            rules_version=report.rules_version,
            currency=report.currency,
            has_usage=usage_cost > 0,
            untagged_cost=usage_cost - tagged_cost,
            coverage_percent=tagged_cost / usage_cost * 100 if usage_cost > 0 else None,
            resources=UntaggedResourcesTable(resources.to_dict("records")),
        )
        if not coverage.empty:
            context["chart"] = to_html(tag_coverage_by_day(coverage))
        return context


def _with_panel(data: QueryDict, panel: str) -> str:
    """The controls' query string (every value of a repeated filter kept) with `panel` set."""
    data = data.copy()
    data["panel"] = panel
    return data.urlencode()


def _filter_labels(filters: dict[str, list[str]], names: dict[str, str]) -> list[str]:
    """The chosen filters in words, for the summary: "Account: ml-prod (111122223333)", "Charge category: Tax"."""
    labels = []
    for name, values in filters.items():
        if name == "account":
            shown = [account_label_text(value, names) for value in values]
        elif name == "charge_category":
            shown = [enum_label(value, CostRecord.ChargeCategory.choices) for value in values]
        else:
            shown = values
        labels.append(f"{enum_label(name)}: {', '.join(shown)}")
    return labels


def _as_lists(params: dict[str, str]) -> dict[str, list[str]]:
    """The controls' parameters as the Reports API receives them, so the page reads exactly what the API reads."""
    return {name: [value] for name, value in params.items()}
