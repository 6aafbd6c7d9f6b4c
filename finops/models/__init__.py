from finops.models.accounts import CloudAccount
from finops.models.allocation import AllocationRulesVersion
from finops.models.billing import CostExplorerRecord, CostRecord, ExportDailyTotal, IngestionRun
from finops.models.teams import Team, TeamMembership, WorkerHeartbeat

__all__ = [
    "AllocationRulesVersion",
    "CloudAccount",
    "CostExplorerRecord",
    "CostRecord",
    "ExportDailyTotal",
    "IngestionRun",
    "Team",
    "TeamMembership",
    "WorkerHeartbeat",
]
