from __future__ import annotations

import django_filters
from django.core.validators import RegexValidator
from django.db.models import Exists, OuterRef

from finops.models import (
    Alert,
    Channel,
    CloudAccount,
    CostAnomaly,
    CostAnomalyIncident,
    IngestionRun,
    Notification,
    Team,
)


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


# Plain strings for the choice fields: enums named "kind", "state" or "status" would collide in the schema.
ALERT_KINDS = ", ".join(Alert.Kind.values)


class AlertFilterSet(django_filters.FilterSet):
    state = django_filters.CharFilter(label="open or resolved")
    kind = django_filters.CharFilter(label=ALERT_KINDS)
    severity = django_filters.CharFilter(label="info, warning or critical")
    team = django_filters.CharFilter(field_name="team__slug", label="Team slug")

    class Meta:
        model = Alert
        fields = ["state", "kind", "severity", "team", "key"]


class ChannelFilterSet(django_filters.FilterSet):
    team = django_filters.CharFilter(field_name="team__slug", label="Team slug")
    is_global = django_filters.BooleanFilter(field_name="team", lookup_expr="isnull", label="Global channels only")

    class Meta:
        model = Channel
        fields = ["team", "enabled"]


class NotificationFilterSet(django_filters.FilterSet):
    status = django_filters.CharFilter(label="sent or failed")
    medium = django_filters.CharFilter(label="webhook or email")

    class Meta:
        model = Notification
        fields = ["channel", "event", "subject", "status", "medium"]


class CostAnomalyFilterSet(django_filters.FilterSet):
    """Incidents (CostAnomalyIncident); `dimension`, `value` and `feedback` match any of the anomalies that saw one."""

    day_from = django_filters.DateFilter(field_name="day", lookup_expr="gte", help_text="First day (inclusive).")
    day_to = django_filters.DateFilter(field_name="day", lookup_expr="lt", help_text="Last day (exclusive).")
    min_impact = django_filters.NumberFilter(
        field_name="impact", lookup_expr="gte", help_text="In the incident's currency (see `currency`)."
    )
    currency = django_filters.CharFilter(
        method="filter_currency",
        validators=[
            RegexValidator(r"^[A-Za-z]{3}$", "Not an ISO 4217 currency code: give three letters, for example EUR.")
        ],
        help_text="ISO 4217: only incidents of series billed in this currency (amounts are never converted).",
    )
    dimension = django_filters.ChoiceFilter(
        choices=CostAnomaly.Dimension.choices, method="filter_member", help_text="Seen along this dimension."
    )
    value = django_filters.CharFilter(method="filter_member", help_text="A service, account id or team slug.")
    feedback = django_filters.ChoiceFilter(choices=CostAnomaly.Feedback.choices, method="filter_member")
    has_feedback = django_filters.BooleanFilter(method="filter_has_feedback", help_text="Whether anyone gave feedback.")

    class Meta:
        model = CostAnomalyIncident
        fields = [
            "source", "dimension", "value", "feedback", "day_from", "day_to", "min_impact", "has_feedback", "currency"
        ]  # fmt: skip

    def filter_currency(self, queryset, name, value):
        return self.filter_member(queryset, "currency", value.upper())

    def filter_member(self, queryset, name, value):
        return queryset.filter(Exists(CostAnomaly.objects.filter(incident=OuterRef("pk"), **{name: value})))

    def filter_has_feedback(self, queryset, name, value):
        given = Exists(CostAnomaly.objects.filter(incident=OuterRef("pk")).exclude(feedback=""))
        return queryset.filter(given) if value else queryset.exclude(given)
