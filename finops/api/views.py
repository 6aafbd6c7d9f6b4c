from __future__ import annotations

from rest_framework import viewsets

from finops.api.serializers import TeamSerializer
from finops.filtersets import TeamFilterSet
from finops.models import Team


class TeamViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = Team.objects.all()
    serializer_class = TeamSerializer
    filterset_class = TeamFilterSet
