"""Recommendations and actions: read-only lists, one command view each for approve, reject and snooze, and
re-planning an action rehearsed in dry run once its account has left dry run."""

from __future__ import annotations

from django.db.models import F
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, viewsets
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from capacity.filtersets import ActionFilterSet, RecommendationFilterSet
from capacity.models import Action, ActionTransition, Recommendation, RecommendationTransition
from capacity.services.approvals import (
    RecommendationForbidden,
    RecommendationInputError,
    RecommendationStateError,
    action_replan,
    recommendation_approve,
    recommendation_reject,
    recommendation_snooze,
)
from config.api import StrictQueryParams

MONEY_FIELD = {"max_digits": 38, "decimal_places": 20, "coerce_to_string": True, "allow_null": True, "read_only": True}


class RecommendationTransitionSerializer(serializers.ModelSerializer):
    class Meta:
        model = RecommendationTransition
        fields = ["from_state", "to_state", "actor", "reason", "at"]
        read_only_fields = fields


class ActionTransitionSerializer(serializers.ModelSerializer):
    class Meta:
        model = ActionTransition
        fields = ["from_state", "to_state", "actor", "reason", "at"]
        read_only_fields = fields


class RecommendationSerializer(serializers.ModelSerializer):
    account_id = serializers.CharField(source="account.account_id", read_only=True)
    team = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    monthly_savings = serializers.DecimalField(**MONEY_FIELD)
    performance_risk = serializers.DecimalField(max_digits=10, decimal_places=4, allow_null=True, read_only=True)
    action_id = serializers.PrimaryKeyRelatedField(source="action", read_only=True, allow_null=True)
    transitions = RecommendationTransitionSerializer(many=True, read_only=True)
    kind = serializers.CharField(read_only=True, help_text="rightsize or idle")

    class Meta:
        model = Recommendation
        fields = [
            "id", "source", "kind", "state", "account_id", "region", "resource_type", "resource_arn", "resource",
            "team", "finding", "reason_codes", "current_configuration", "recommended_configuration",
            "performance_risk", "options", "monthly_savings", "currency", "evidence", "snoozed_until", "first_seen",
            "last_seen", "expired_at", "action_id", "transitions",
        ]  # fmt: skip
        read_only_fields = fields


class ActionSerializer(serializers.ModelSerializer):
    account_id = serializers.CharField(source="account.account_id", read_only=True)
    team = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    monthly_savings = serializers.DecimalField(**MONEY_FIELD)
    realised_monthly_savings = serializers.DecimalField(
        **MONEY_FIELD, help_text="Measured from billing after the change (null until measured; never estimated)."
    )
    hourly_saving = serializers.DecimalField(
        **MONEY_FIELD, help_text="Policy actions: estimated from on-demand prices (null when no price is known)."
    )
    transitions = ActionTransitionSerializer(many=True, read_only=True)
    kind = serializers.CharField(
        read_only=True, help_text="rightsize or idle (approvals); stop, start, delete, recreate, scale_to_zero, restore"
    )

    class Meta:
        model = Action
        fields = [
            "id", "recommendation", "kind", "state", "account_id", "region", "resource_type", "resource_arn",
            "resource", "team", "parameters", "dry_run", "monthly_savings", "realised_monthly_savings",
            "realised_measured_at", "old_configuration", "new_configuration", "next_window_at", "executed_at",
            "error", "result", "policy", "reason", "capped", "hourly_saving", "transition_at", "run_after",
            "attempts", "created_at", "updated_at", "transitions",
        ]  # fmt: skip
        read_only_fields = fields


class RecommendationViewSet(StrictQueryParams, viewsets.ReadOnlyModelViewSet):
    """Recommendations from Compute Optimizer and Costplane's GPU right-sizing, biggest savings first."""

    queryset = (
        Recommendation.objects.select_related("account", "team", "action")
        .prefetch_related("transitions")
        .order_by(F("monthly_savings").desc(nulls_last=True), "id")
    )
    serializer_class = RecommendationSerializer
    filterset_class = RecommendationFilterSet


class ActionViewSet(StrictQueryParams, viewsets.ReadOnlyModelViewSet):
    """Actions: planned from approved recommendations, or made by policies; newest first."""

    queryset = Action.objects.select_related("account", "team").prefetch_related("transitions")
    serializer_class = ActionSerializer
    filterset_class = ActionFilterSet


class DecisionInputSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class SnoozeInputSerializer(DecisionInputSerializer):
    until = serializers.DateField()


ERRORS = inline_serializer("Errors", {"errors": serializers.DictField(child=serializers.ListField())})


class RecommendationCommandView(StrictQueryParams, APIView):
    """One command on one recommendation; the service decides who may and from which state."""

    # Who may decide is the service's question (approver of the team, or admin): the view only needs a user.
    permission_classes = [IsAuthenticated]
    input_serializer_class: type[serializers.Serializer] = DecisionInputSerializer

    def command(self, *, recommendation_id: int, user, data: dict):
        raise NotImplementedError

    def post(self, request: Request, pk: int) -> Response:
        get_object_or_404(Recommendation, pk=pk)
        incoming = self.input_serializer_class(data=request.data)
        if not incoming.is_valid():
            return Response({"errors": incoming.errors}, status=400)
        try:
            self.command(recommendation_id=pk, user=request.user, data=incoming.validated_data)
        except RecommendationForbidden as error:
            return Response({"errors": {"detail": [str(error)]}}, status=403)
        except RecommendationStateError as error:
            return Response({"errors": {"state": [str(error)]}}, status=409)
        except RecommendationInputError as error:
            return Response({"errors": {error.field: [str(error)]}}, status=400)
        recommendation = RecommendationViewSet.queryset.get(pk=pk)
        return Response(RecommendationSerializer(recommendation).data)


_COMMAND_RESPONSES = {200: RecommendationSerializer, 400: ERRORS, 403: ERRORS, 404: ERRORS, 409: ERRORS}


class RecommendationApproveView(RecommendationCommandView):
    @extend_schema(request=DecisionInputSerializer, responses=_COMMAND_RESPONSES, operation_id="recommendation_approve")
    def post(self, request: Request, pk: int) -> Response:
        """Approve the recommendation: it becomes approved and gets a planned action."""
        return super().post(request, pk)

    def command(self, *, recommendation_id: int, user, data: dict):
        return recommendation_approve(recommendation_id=recommendation_id, user=user, reason=data["reason"])


class RecommendationRejectView(RecommendationCommandView):
    @extend_schema(request=DecisionInputSerializer, responses=_COMMAND_RESPONSES, operation_id="recommendation_reject")
    def post(self, request: Request, pk: int) -> Response:
        """Reject the recommendation."""
        return super().post(request, pk)

    def command(self, *, recommendation_id: int, user, data: dict):
        return recommendation_reject(recommendation_id=recommendation_id, user=user, reason=data["reason"])


class RecommendationSnoozeView(RecommendationCommandView):
    input_serializer_class = SnoozeInputSerializer

    @extend_schema(request=SnoozeInputSerializer, responses=_COMMAND_RESPONSES, operation_id="recommendation_snooze")
    def post(self, request: Request, pk: int) -> Response:
        """Snooze the recommendation until a date; it reopens then."""
        return super().post(request, pk)

    def command(self, *, recommendation_id: int, user, data: dict):
        return recommendation_snooze(
            recommendation_id=recommendation_id, user=user, until=data["until"], reason=data["reason"]
        )


class ActionReplanView(StrictQueryParams, APIView):
    """Plan again, for real, an action skipped as a dry run, once its account has left dry run."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        request=None,
        responses={200: ActionSerializer, 400: ERRORS, 403: ERRORS, 404: ERRORS},
        operation_id="action_replan",
    )
    def post(self, request: Request, pk: int) -> Response:
        get_object_or_404(Action, pk=pk)
        try:
            action_replan(action_id=pk, user=request.user)
        except RecommendationForbidden as error:
            return Response({"errors": {"detail": [str(error)]}}, status=403)
        except RecommendationInputError as error:
            return Response({"errors": {error.field: [str(error)]}}, status=400)
        return Response(ActionSerializer(ActionViewSet.queryset.get(pk=pk)).data)
