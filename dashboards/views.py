from __future__ import annotations

from django.utils import timezone
from django.views.generic import TemplateView

from dashboards import charts
from dashboards.access import ViewerRequiredMixin
from finops.selectors.ingestion import account_freshness_list
from finops.selectors.overview import overview_summary


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
    template_name = "dashboards/allocation.html"


class UnitEconomicsView(ViewerRequiredMixin, TemplateView):
    template_name = "dashboards/unit_economics.html"


class CapacityView(ViewerRequiredMixin, TemplateView):
    template_name = "dashboards/capacity.html"


class RecommendationsView(ViewerRequiredMixin, TemplateView):
    template_name = "dashboards/recommendations.html"


class SchedulesView(ViewerRequiredMixin, TemplateView):
    template_name = "dashboards/schedules.html"
