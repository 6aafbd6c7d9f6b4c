from __future__ import annotations

from rest_framework.routers import DefaultRouter

from finops.api import views


def register(router: DefaultRouter) -> None:
    router.register("teams", views.TeamViewSet, basename="team")
