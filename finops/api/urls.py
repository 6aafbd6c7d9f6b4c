from __future__ import annotations

from django.urls import re_path
from rest_framework.routers import DefaultRouter

from finops.api import alerts, anomalies, billing_periods, budgets, views
from finops.api.reports import CostReportView, ReconciliationView, TagCoverageView


def register(router: DefaultRouter) -> None:
    router.register("teams", views.TeamViewSet, basename="team")
    router.register("accounts", views.CloudAccountViewSet, basename="account")
    router.register("ingestion-runs", views.IngestionRunViewSet, basename="ingestion-run")
    router.register("allocation-rules", views.AllocationRulesViewSet, basename="allocation-rules")
    router.register("alerts", alerts.AlertViewSet, basename="alert")
    router.register("channels", alerts.ChannelViewSet, basename="channel")
    router.register("notifications", alerts.NotificationViewSet, basename="notification")
    router.register("budgets", budgets.BudgetViewSet, basename="budget")
    router.register("anomalies", anomalies.CostAnomalyViewSet, basename="anomaly")
    router.register("billing-periods", billing_periods.BillingPeriodViewSet, basename="billing-period")


urlpatterns = [
    re_path(
        r"^billing-periods/reallocate/?$",
        billing_periods.BillingPeriodReallocateView.as_view(),
        name="billing-period-reallocate",
    ),
    re_path(r"^costs/?$", CostReportView.as_view(), name="report-costs"),
    re_path(r"^tag-coverage/?$", TagCoverageView.as_view(), name="tag-coverage"),
    re_path(r"^reconciliation/?$", ReconciliationView.as_view(), name="reconciliation"),
    re_path(r"^alerts/(?P<pk>[0-9]+)/acknowledge/?$", alerts.AlertAcknowledgeView.as_view(), name="alert-acknowledge"),
    re_path(r"^channels/(?P<pk>[0-9]+)/test/?$", alerts.ChannelTestView.as_view(), name="channel-test"),
    re_path(
        r"^anomalies/(?P<pk>[0-9]+)/feedback/?$", anomalies.CostAnomalyFeedbackView.as_view(), name="anomaly-feedback"
    ),
]
