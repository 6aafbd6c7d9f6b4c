from __future__ import annotations

from rest_framework.routers import DefaultRouter

from capacity.api import views


def register(router: DefaultRouter) -> None:
    router.register("resources", views.ResourceViewSet, basename="resource")
    router.register("instance-types", views.InstanceTypeViewSet, basename="instance-type")
    router.register("prices", views.PriceViewSet, basename="price")
    router.register("quotas", views.ServiceQuotaViewSet, basename="quota")
    router.register("collection-runs", views.CollectionRunViewSet, basename="collection-run")
