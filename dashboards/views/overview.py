"""The Overview page: month to date against last month, daily spend per service, the biggest movers, freshness."""

from __future__ import annotations

from django.utils import timezone
from django.views.generic import TemplateView

from dashboards.access import ViewerRequiredMixin
from dashboards.charts.base import to_html
from dashboards.charts.overview import daily_spend_by_service
from finops.reports import ReportError
from finops.selectors.ingestion import account_freshness_list
from finops.selectors.overview import overview_summary


class OverviewView(ViewerRequiredMixin, TemplateView):
    template_name = "dashboards/overview.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["freshness"] = account_freshness_list()
        try:
            summary = overview_summary(today=timezone.now().date())
        except ReportError as error:  # the same 400 the Reports API gives, e.g. rows in several currencies
            context["errors"] = error.messages
            return context
        context["summary"] = summary
        if summary.has_data:
            context["daily_chart"] = to_html(daily_spend_by_service(summary.daily_by_service))
        return context
