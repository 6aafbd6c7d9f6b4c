from finops.models.accounts import CloudAccount
from finops.models.alerts import Alert
from finops.models.allocation import AllocationRulesVersion
from finops.models.anomalies import CostAnomaly, CostAnomalyIncident
from finops.models.billing import CostExplorerRecord, CostRecord, ExportDailyTotal, IngestionRun
from finops.models.billing_periods import BillingPeriod, BillingPeriodReallocation, BillingRestatement
from finops.models.budgets import Budget, BudgetCrossing, BudgetThreshold
from finops.models.notifications import CeleryTaskCount, Channel, Notification
from finops.models.rollups import CostDailyRollup, CostRollupState, CostTagRollup
from finops.models.teams import Team, TeamMembership, WorkerHeartbeat

__all__ = [
    "Alert",
    "AllocationRulesVersion",
    "BillingPeriod",
    "BillingPeriodReallocation",
    "BillingRestatement",
    "Budget",
    "BudgetCrossing",
    "BudgetThreshold",
    "CeleryTaskCount",
    "Channel",
    "CloudAccount",
    "CostAnomaly",
    "CostAnomalyIncident",
    "CostDailyRollup",
    "CostTagRollup",
    "CostExplorerRecord",
    "CostRecord",
    "CostRollupState",
    "ExportDailyTotal",
    "IngestionRun",
    "Notification",
    "Team",
    "TeamMembership",
    "WorkerHeartbeat",
]
