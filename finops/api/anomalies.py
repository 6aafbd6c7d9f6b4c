"""/api/v1/anomalies (read, filters) and POST /api/v1/anomalies/{id}/feedback.

Each item is an incident: one cost spike, listed once with its anomalies (`dimensions`: each service, account or
team that saw it, per day when it lasted several days: `day` to `end_day`). Its `dimension`, `value`, `expected`,
`actual`, `score` and `contributors` are its largest anomaly's; `impact` is per day the largest impact (the
dimensions are views of the same spend, so they are never added), summed over its days. Feedback is given on an
incident and goes to each of its anomalies.

Feedback is open to every role that can view (viewer, approver, operator, admin): saying whether a cost
spike was real or expected is knowledge about spend, not an action on resources, and the people who know
(the team that ran the job) are often viewers. Who gave it and when is stored.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import StrictQueryParams
from finops.filtersets import CostAnomalyFilterSet
from finops.models import CostAnomaly, CostAnomalyIncident
from finops.permissions import CanViewCosts
from finops.selectors.anomalies import cost_anomaly_incident_get, cost_anomaly_incidents_listed
from finops.services.anomalies import cost_anomaly_feedback


def _money(**kwargs) -> serializers.DecimalField:
    return serializers.DecimalField(max_digits=38, decimal_places=20, coerce_to_string=True, read_only=True, **kwargs)


class CostAnomalyDimensionSerializer(serializers.ModelSerializer):
    """One anomaly of an incident: the dimension value that saw the spike, with its own figures."""

    expected = _money()
    actual = _money()
    impact = _money()

    class Meta:
        model = CostAnomaly
        fields = ["id", "dimension", "value", "day", "expected", "actual", "impact", "score"]
        read_only_fields = fields


class CostAnomalySerializer(serializers.ModelSerializer):
    dimension = serializers.CharField(source="lead.dimension", read_only=True, help_text="Its largest anomaly's.")
    end_day = serializers.DateField(read_only=True, allow_null=True, help_text="Its last day, when it lasted several.")
    value = serializers.CharField(source="lead.value", read_only=True)
    expected = _money(source="lead.expected")
    actual = _money(source="lead.actual")
    impact = _money(help_text="Per day the largest impact among its dimensions (they overlap), summed over its days.")
    score = serializers.FloatField(source="lead.score", read_only=True)
    currency = serializers.CharField(source="lead.currency", read_only=True)
    contributors = serializers.JSONField(source="lead.contributors", read_only=True)
    account_id = serializers.CharField(source="lead.account.account_id", read_only=True, default=None)
    external_id = serializers.CharField(source="lead.external_id", read_only=True)
    monitor_arn = serializers.CharField(source="lead.monitor_arn", read_only=True)
    feedback = serializers.CharField(source="lead.feedback", read_only=True)
    feedback_by = serializers.CharField(source="lead.feedback_by.username", read_only=True, default=None)
    feedback_at = serializers.DateTimeField(source="lead.feedback_at", read_only=True)
    dimensions = CostAnomalyDimensionSerializer(source="members", many=True, read_only=True)

    class Meta:
        model = CostAnomalyIncident
        fields = [
            "id", "source", "dimension", "value", "day", "end_day", "expected", "actual", "impact", "score",
            "currency", "contributors", "account_id", "external_id", "monitor_arn", "feedback", "feedback_by",
            "feedback_at", "dimensions", "detected_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = fields


class CostAnomalyViewSet(StrictQueryParams, viewsets.ReadOnlyModelViewSet):
    """Cost anomalies, ours (source "costplane") and AWS Cost Anomaly Detection's (source "aws"), newest first: one
    item per incident, with the dimensions that saw it."""

    serializer_class = CostAnomalySerializer
    filterset_class = CostAnomalyFilterSet

    def get_queryset(self):
        return cost_anomaly_incidents_listed()


class FeedbackSerializer(serializers.Serializer):
    feedback = serializers.ChoiceField(choices=CostAnomaly.Feedback.choices)


class CostAnomalyFeedbackView(StrictQueryParams, APIView):
    """Say whether an incident was real, expected or not an anomaly (each of its dimensions takes it). "expected"
    and "not_anomaly" suppress new anomalies of the same services/accounts/teams for a while (see
    finops.services.anomalies)."""

    permission_classes = [CanViewCosts]

    @extend_schema(request=FeedbackSerializer, responses={200: CostAnomalySerializer})
    def post(self, request, pk: int):
        incident = cost_anomaly_incident_get(incident_id=pk)
        if incident is None:
            raise NotFound("No such anomaly.")
        params = FeedbackSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        cost_anomaly_feedback(incident=incident, feedback=params.validated_data["feedback"], user=request.user)
        incident = cost_anomaly_incident_get(incident_id=pk)
        return Response(CostAnomalySerializer(incident).data, status=status.HTTP_200_OK)
