from capacity.models.demand import GpuDemandDay, GpuDemandForecast
from capacity.models.inventory import InstanceTypeInfo, Resource
from capacity.models.prices import Price, ServiceQuota
from capacity.models.runs import CollectionRun
from capacity.models.utilisation import UtilisationHour

__all__ = [
    "CollectionRun",
    "GpuDemandDay",
    "GpuDemandForecast",
    "InstanceTypeInfo",
    "Price",
    "Resource",
    "ServiceQuota",
    "UtilisationHour",
]
