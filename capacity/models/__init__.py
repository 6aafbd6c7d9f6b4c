from capacity.models.inventory import InstanceTypeInfo, Resource
from capacity.models.prices import Price, ServiceQuota
from capacity.models.runs import CollectionRun
from capacity.models.utilisation import UtilisationHour

__all__ = ["CollectionRun", "InstanceTypeInfo", "Price", "Resource", "ServiceQuota", "UtilisationHour"]
