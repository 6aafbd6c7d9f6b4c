from __future__ import annotations

import django_filters

from finops.models import CloudAccount, IngestionRun, Team


class TeamFilterSet(django_filters.FilterSet):
    name = django_filters.CharFilter(lookup_expr="icontains")

    class Meta:
        model = Team
        fields = ["name", "slug"]


class CloudAccountFilterSet(django_filters.FilterSet):
    name = django_filters.CharFilter(lookup_expr="icontains")

    class Meta:
        model = CloudAccount
        fields = ["account_id", "name", "payer", "discovered"]


class IngestionRunFilterSet(django_filters.FilterSet):
    account_id = django_filters.CharFilter(field_name="account__account_id")

    class Meta:
        model = IngestionRun
        fields = ["account", "account_id", "source", "status"]
