from __future__ import annotations

from django.urls import re_path
from rest_framework.routers import DefaultRouter

from capacity.api import views
from capacity.api.reports import AllocationWithIdleReportView, UnitCostReportView


def register(router: DefaultRouter) -> None:
    router.register("resources", views.ResourceViewSet, basename="resource")
    router.register("instance-types", views.InstanceTypeViewSet, basename="instance-type")
    router.register("prices", views.PriceViewSet, basename="price")
    router.register("quotas", views.ServiceQuotaViewSet, basename="quota")
    router.register("collection-runs", views.CollectionRunViewSet, basename="collection-run")


urlpatterns = [
    re_path(r"^allocations/?$", AllocationWithIdleReportView.as_view(), name="report-allocations"),
    re_path(r"^unit-costs/?$", UnitCostReportView.as_view(), name="report-unit-costs"),
]
