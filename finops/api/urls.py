from __future__ import annotations

from django.urls import re_path
from rest_framework.routers import DefaultRouter

from finops.api import views
from finops.api.reports import CostReportView, ReconciliationView, TagCoverageView


def register(router: DefaultRouter) -> None:
    router.register("teams", views.TeamViewSet, basename="team")
    router.register("accounts", views.CloudAccountViewSet, basename="account")
    router.register("ingestion-runs", views.IngestionRunViewSet, basename="ingestion-run")
    router.register("allocation-rules", views.AllocationRulesViewSet, basename="allocation-rules")


urlpatterns = [
    re_path(r"^costs/?$", CostReportView.as_view(), name="report-costs"),
    re_path(r"^tag-coverage/?$", TagCoverageView.as_view(), name="tag-coverage"),
    re_path(r"^reconciliation/?$", ReconciliationView.as_view(), name="reconciliation"),
]
