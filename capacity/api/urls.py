from __future__ import annotations

from django.urls import re_path
from rest_framework.routers import DefaultRouter

from capacity.api import planning, policies, recommendations, views
from capacity.api.reports import AllocationReportView, UnitCostReportView
from capacity.api.spend import SpendForecastView


def register(router: DefaultRouter) -> None:
    router.register("resources", views.ResourceViewSet, basename="resource")
    router.register("instance-types", views.InstanceTypeViewSet, basename="instance-type")
    router.register("prices", views.PriceViewSet, basename="price")
    router.register("quotas", views.ServiceQuotaViewSet, basename="quota")
    router.register("collection-runs", views.CollectionRunViewSet, basename="collection-run")
    router.register("recommendations", recommendations.RecommendationViewSet, basename="recommendation")
    router.register("actions", recommendations.ActionViewSet, basename="action")
    router.register("policies", policies.PolicyViewSet, basename="policy")
    router.register("capacity-scenarios", planning.CapacityScenarioViewSet, basename="capacity-scenario")


urlpatterns = [
    re_path(r"^allocations/?$", AllocationReportView.as_view(), name="report-allocations"),
    re_path(r"^unit-costs/?$", UnitCostReportView.as_view(), name="report-unit-costs"),
    re_path(r"^forecasts/spend/?$", SpendForecastView.as_view(), name="forecast-spend"),
    re_path(r"^forecasts/gpu-demand/?$", planning.GpuDemandForecastView.as_view(), name="forecast-gpu-demand"),
    re_path(
        r"^forecasts/gpu-demand/refresh/?$", planning.ForecastRefreshView.as_view(), name="forecast-gpu-demand-refresh"
    ),
    re_path(r"^capacity-plan/?$", planning.CapacityPlanView.as_view(), name="capacity-plan"),
    re_path(
        r"^recommendations/(?P<pk>[0-9]+)/approve/?$",
        recommendations.RecommendationApproveView.as_view(),
        name="recommendation-approve",
    ),
    re_path(
        r"^recommendations/(?P<pk>[0-9]+)/reject/?$",
        recommendations.RecommendationRejectView.as_view(),
        name="recommendation-reject",
    ),
    re_path(
        r"^recommendations/(?P<pk>[0-9]+)/snooze/?$",
        recommendations.RecommendationSnoozeView.as_view(),
        name="recommendation-snooze",
    ),
    re_path(r"^actions/(?P<pk>[0-9]+)/replan/?$", recommendations.ActionReplanView.as_view(), name="action-replan"),
    re_path(r"^policies/(?P<pk>[0-9]+)/preview/?$", policies.PolicyPreviewView.as_view(), name="policy-preview"),
    re_path(r"^actions/(?P<pk>[0-9]+)/snooze/?$", policies.ActionSnoozeView.as_view(), name="action-snooze"),
]
