"""The Overview page: month to date against last month, daily spend per service, the biggest movers, freshness."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from django.views.generic import TemplateView

from dashboards.access import ViewerRequiredMixin
from dashboards.charts.base import to_html
from dashboards.charts.overview import daily_spend_by_service
from finops.reports import ReportError
from finops.selectors.billing import billing_filter_options
from finops.selectors.ingestion import account_freshness_list
from finops.selectors.overview import overview_summary


class OverviewView(ViewerRequiredMixin, TemplateView):
    template_name = "dashboards/overview.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["freshness"] = account_freshness_list()
        today = timezone.now().date()
        chosen = (self.request.GET.get("currency") or "").strip().upper() or None
        # The data may hold several billing currencies: the page shows one at a time, never converted.
        currencies = billing_filter_options(start=today - timedelta(days=95), end=today).currencies
        context["currencies"] = currencies if len(currencies) > 1 else ()
        context["currency_chosen"] = chosen
        try:
            summary = overview_summary(today=today, currency=chosen)
        except ReportError as error:  # the same 400 the Reports API gives, e.g. rows in several currencies
            context["errors"] = error.messages
            return context
        context["summary"] = summary
        if summary.has_data:
            estimated = [(days.start, days.end) for days in summary.estimated]
            context["daily_chart"] = to_html(daily_spend_by_service(summary.daily_by_service, estimated=estimated))
        return context
