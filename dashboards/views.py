from __future__ import annotations

from django.views.generic import TemplateView

from dashboards.access import ViewerRequiredMixin


class OverviewView(ViewerRequiredMixin, TemplateView):
    template_name = "dashboards/overview.html"


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
