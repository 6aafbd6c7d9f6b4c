from __future__ import annotations

from django.urls import path

from dashboards import views
from dashboards.views import alerts, anomalies, budgets, policies, recommendations

app_name = "dashboards"

urlpatterns = [
    path("", views.OverviewView.as_view(), name="overview"),
    path("allocation/", views.AllocationView.as_view(), name="allocation"),
    path("unit-economics/", views.UnitEconomicsView.as_view(), name="unit_economics"),
    path("capacity/", views.CapacityView.as_view(), name="capacity"),
    path("recommendations/", recommendations.RecommendationsView.as_view(), name="recommendations"),
    path("schedules/", policies.PoliciesView.as_view(), name="schedules"),
    path("alerts/", alerts.AlertsView.as_view(), name="alerts"),
    path("budgets/", budgets.BudgetsView.as_view(), name="budgets"),
    path("anomalies/", anomalies.AnomaliesView.as_view(), name="anomalies"),
    path("accounts/", views.AccountsView.as_view(), name="accounts"),
    path("reconciliation/", views.ReconciliationView.as_view(), name="reconciliation"),
]
