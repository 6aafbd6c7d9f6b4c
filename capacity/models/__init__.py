from capacity.models.demand import GpuDemandDay, GpuDemandForecast, GpuGroupPeakDay, GpuPeakDay
from capacity.models.idle import IdleGpuCostDaily
from capacity.models.inventory import InstanceTypeInfo, Resource
from capacity.models.planning import (
    CapacityReservation,
    CapacityScenario,
    QuotaDemandDay,
    ScenarioProject,
    SpendForecast,
)
from capacity.models.policies import Policy
from capacity.models.prices import Price, ServiceQuota
from capacity.models.recommendations import (
    Action,
    ActionTransition,
    Recommendation,
    RecommendationTransition,
)
from capacity.models.runs import CollectionRun
from capacity.models.settings import TeamSettings
from capacity.models.utilisation import UtilisationHour

__all__ = [
    "Action",
    "ActionTransition",
    "CapacityReservation",
    "CapacityScenario",
    "CollectionRun",
    "GpuDemandDay",
    "GpuDemandForecast",
    "GpuGroupPeakDay",
    "GpuPeakDay",
    "IdleGpuCostDaily",
    "InstanceTypeInfo",
    "Policy",
    "Price",
    "QuotaDemandDay",
    "Recommendation",
    "RecommendationTransition",
    "Resource",
    "ScenarioProject",
    "ServiceQuota",
    "SpendForecast",
    "TeamSettings",
    "UtilisationHour",
]
