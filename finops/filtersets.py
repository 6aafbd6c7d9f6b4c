from __future__ import annotations

import django_filters

from finops.models import Team


class TeamFilterSet(django_filters.FilterSet):
    name = django_filters.CharFilter(lookup_expr="icontains")

    class Meta:
        model = Team
        fields = ["name", "slug"]
