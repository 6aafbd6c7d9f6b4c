"""/api/v1/anomalies (read, filters) and POST /api/v1/anomalies/{id}/feedback.

Feedback is open to every role that can view (viewer, approver, operator, admin): saying whether a cost
spike was real or expected is knowledge about spend, not an action on resources, and the people who know
(the team that ran the job) are often viewers. Who gave it and when is stored.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.generics import get_object_or_404
from rest_framework.response import Response
from rest_framework.views import APIView

from finops.filtersets import CostAnomalyFilterSet
from finops.models import CostAnomaly
from finops.permissions import CanViewCosts
from finops.services.anomalies import cost_anomaly_feedback


class CostAnomalySerializer(serializers.ModelSerializer):
    expected = serializers.DecimalField(max_digits=38, decimal_places=20, coerce_to_string=True)
    actual = serializers.DecimalField(max_digits=38, decimal_places=20, coerce_to_string=True)
    impact = serializers.DecimalField(max_digits=38, decimal_places=20, coerce_to_string=True)
    account_id = serializers.CharField(source="account.account_id", read_only=True, default=None)
    feedback_by = serializers.CharField(source="feedback_by.username", read_only=True, default=None)

    class Meta:
        model = CostAnomaly
        fields = [
            "id", "source", "dimension", "value", "day", "end_day", "expected", "actual", "impact", "score",
            "currency", "contributors", "account_id", "external_id", "monitor_arn", "feedback", "feedback_by",
            "feedback_at", "detected_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = fields


class CostAnomalyViewSet(viewsets.ReadOnlyModelViewSet):
    """Cost anomalies, ours (source "costplane") and AWS Cost Anomaly Detection's (source "aws"), newest first."""

    queryset = CostAnomaly.objects.select_related("account", "feedback_by").order_by("-day", "-impact", "id")
    serializer_class = CostAnomalySerializer
    filterset_class = CostAnomalyFilterSet


class FeedbackSerializer(serializers.Serializer):
    feedback = serializers.ChoiceField(choices=CostAnomaly.Feedback.choices)


class CostAnomalyFeedbackView(APIView):
    """Say whether an anomaly was real, expected or not an anomaly. "expected" and "not_anomaly" suppress new
    anomalies of the same service/account/team for a while (see finops.services.anomalies)."""

    permission_classes = [CanViewCosts]

    @extend_schema(request=FeedbackSerializer, responses={200: CostAnomalySerializer})
    def post(self, request, pk: int):
        anomaly = get_object_or_404(CostAnomaly, pk=pk)
        params = FeedbackSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        anomaly = cost_anomaly_feedback(anomaly=anomaly, feedback=params.validated_data["feedback"], user=request.user)
        return Response(CostAnomalySerializer(anomaly).data, status=status.HTTP_200_OK)
