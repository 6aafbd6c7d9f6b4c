from __future__ import annotations

from django.urls import path

from dashboards.views import (
    accounts,
    alerts,
    allocation,
    anomalies,
    budgets,
    capacity,
    capacity_plan,
    overview,
    policies,
    recommendations,
    reconciliation,
    unit_economics,
)

app_name = "dashboards"

urlpatterns = [
    path("", overview.OverviewView.as_view(), name="overview"),
    path("allocation/", allocation.AllocationView.as_view(), name="allocation"),
    path("unit-economics/", unit_economics.UnitEconomicsView.as_view(), name="unit_economics"),
    path("capacity/", capacity.CapacityView.as_view(), name="capacity"),
    path("capacity/plan/", capacity_plan.CapacityPlanView.as_view(), name="capacity_plan"),
    path("recommendations/", recommendations.RecommendationsView.as_view(), name="recommendations"),
    # The Policies page keeps its first URL and name.
    path("schedules/", policies.PoliciesView.as_view(), name="schedules"),
    path("alerts/", alerts.AlertsView.as_view(), name="alerts"),
    path("budgets/", budgets.BudgetsView.as_view(), name="budgets"),
    path("anomalies/", anomalies.AnomaliesView.as_view(), name="anomalies"),
    path("accounts/", accounts.AccountsView.as_view(), name="accounts"),
    path("reconciliation/", reconciliation.ReconciliationView.as_view(), name="reconciliation"),
]
