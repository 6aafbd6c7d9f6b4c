from __future__ import annotations

# (url name, label): the top navigation, in order.
NAVIGATION: tuple[tuple[str, str], ...] = (
    ("dashboards:overview", "Overview"),
    ("dashboards:allocation", "Allocation"),
    ("dashboards:unit_economics", "Unit economics"),
    ("dashboards:capacity", "Capacity"),
    ("dashboards:capacity_plan", "Capacity plan"),
    ("dashboards:recommendations", "Recommendations"),
    ("dashboards:schedules", "Policies"),
    ("dashboards:alerts", "Alerts"),
    ("dashboards:budgets", "Budgets"),
    ("dashboards:anomalies", "Anomalies"),
    ("dashboards:accounts", "Accounts"),
)
