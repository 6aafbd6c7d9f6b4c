"""Policies: list, read, create, edit and delete (operators; everyone with a role reads), a preview of what one
would do now, and snoozing an announced policy action (the owning team's approvers, or admins)."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, viewsets
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from capacity.api.recommendations import ActionSerializer, ActionViewSet
from capacity.filtersets import PolicyFilterSet
from capacity.models import Action, Policy
from capacity.services.policies import (
    ActionStateError,
    PolicyForbidden,
    PolicyInputError,
    action_snooze,
    policy_create,
    policy_delete,
    policy_preview,
    policy_update,
)
from config.api import StrictQueryParams
from finops.models import CloudAccount
from finops.permissions import IsOperatorOrReadOnly

ERRORS = inline_serializer("PolicyErrors", {"errors": serializers.DictField(child=serializers.ListField())})
PERCENT = {"max_digits": 6, "decimal_places": 2, "coerce_to_string": True, "allow_null": True}


class PolicySerializer(serializers.ModelSerializer):
    accounts = serializers.SlugRelatedField(slug_field="account_id", many=True, read_only=True)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    updated_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    resource_kinds = serializers.ListField(child=serializers.CharField(), read_only=True)
    regions = serializers.ListField(child=serializers.CharField(), read_only=True)
    tag_filters = serializers.DictField(child=serializers.ListField(child=serializers.CharField()), read_only=True)
    idle_gpu_percent = serializers.DecimalField(**PERCENT, read_only=True)
    idle_cpu_percent = serializers.DecimalField(**PERCENT, read_only=True)
    last_run = serializers.DictField(read_only=True)

    class Meta:
        model = Policy
        fields = [
            "id", "name", "description", "enabled", "dry_run", "resource_kinds", "accounts", "regions", "tag_filters",
            "include_prod", "action", "trigger", "schedule", "schedule_tag_key", "idle_hours", "idle_gpu_percent",
            "idle_cpu_percent", "grace_minutes", "max_actions_per_run", "created_by", "updated_by",
            "last_evaluated_at", "last_run", "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = fields


class PolicyInputSerializer(serializers.Serializer):
    """The editable fields; the service validates their combination (schedule grammar, kinds for the action)."""

    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True)
    enabled = serializers.BooleanField(required=False)
    dry_run = serializers.BooleanField(required=False)
    # Plain strings (the service checks them against the action): an enum here would rename Resource's kind enum.
    resource_kinds = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        help_text="Resource kinds, e.g. ec2_instance; empty: all fitting.",
    )
    accounts = serializers.ListField(
        child=serializers.CharField(max_length=12), required=False, help_text="12-digit account ids; empty: all."
    )
    regions = serializers.ListField(child=serializers.CharField(max_length=32), required=False)
    tag_filters = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()), required=False, help_text='{"team": ["vision"]}'
    )
    include_prod = serializers.BooleanField(required=False)
    action = serializers.ChoiceField(choices=Policy.Action.choices)
    trigger = serializers.ChoiceField(choices=Policy.Trigger.choices, required=False)
    schedule = serializers.CharField(required=False, allow_blank=True, max_length=500)
    schedule_tag_key = serializers.CharField(required=False, max_length=128)
    idle_hours = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    idle_gpu_percent = serializers.DecimalField(max_digits=6, decimal_places=2, required=False, allow_null=True)
    idle_cpu_percent = serializers.DecimalField(max_digits=6, decimal_places=2, required=False, allow_null=True)
    grace_minutes = serializers.IntegerField(required=False, min_value=0)
    max_actions_per_run = serializers.IntegerField(required=False, min_value=1)

    def validate_accounts(self, value: list[str]) -> list[CloudAccount]:
        found = {account.account_id: account for account in CloudAccount.objects.filter(account_id__in=value)}
        missing = [account_id for account_id in value if account_id not in found]
        if missing:
            raise serializers.ValidationError(f"Unknown accounts: {', '.join(missing)}.")
        return [found[account_id] for account_id in value]


class PolicyViewSet(StrictQueryParams, viewsets.ModelViewSet):
    """Idle-shutdown and off-hours policies, by name. Operators create, edit and delete; everyone with a role reads."""

    queryset = Policy.objects.prefetch_related("accounts").select_related("created_by", "updated_by").order_by("name")
    serializer_class = PolicySerializer
    permission_classes = [IsOperatorOrReadOnly]
    filterset_class = PolicyFilterSet

    def _write(self, request: Request, *, partial: bool, policy: Policy | None = None) -> Response:
        incoming = PolicyInputSerializer(data=request.data, partial=partial)
        if not incoming.is_valid():
            return Response({"errors": incoming.errors}, status=400)
        try:
            if policy is None:
                saved = policy_create(user=request.user, data=dict(incoming.validated_data))
            else:
                saved = policy_update(policy_id=policy.pk, user=request.user, data=dict(incoming.validated_data))
        except PolicyForbidden as error:
            return Response({"errors": {"detail": [str(error)]}}, status=403)
        except PolicyInputError as error:
            return Response({"errors": {error.field: [str(error)]}}, status=400)
        return Response(PolicySerializer(self.queryset.get(pk=saved.pk)).data, status=201 if policy is None else 200)

    @extend_schema(request=PolicyInputSerializer, responses={201: PolicySerializer, 400: ERRORS, 403: ERRORS})
    def create(self, request: Request, *args, **kwargs) -> Response:
        """Create a policy; it starts in dry run unless `dry_run` is false."""
        return self._write(request, partial=False)

    @extend_schema(request=PolicyInputSerializer, responses={200: PolicySerializer, 400: ERRORS, 403: ERRORS})
    def update(self, request: Request, *args, **kwargs) -> Response:
        return self._write(request, partial=False, policy=self.get_object())

    @extend_schema(request=PolicyInputSerializer, responses={200: PolicySerializer, 400: ERRORS, 403: ERRORS})
    def partial_update(self, request: Request, *args, **kwargs) -> Response:
        return self._write(request, partial=True, policy=self.get_object())

    @extend_schema(responses={204: None, 400: ERRORS, 403: ERRORS})
    def destroy(self, request: Request, *args, **kwargs) -> Response:
        """Delete a policy that never made an action (one with history is disabled instead: 400)."""
        policy = self.get_object()
        try:
            policy_delete(policy_id=policy.pk, user=request.user)
        except PolicyForbidden as error:
            return Response({"errors": {"detail": [str(error)]}}, status=403)
        except PolicyInputError as error:
            return Response({"errors": {error.field: [str(error)]}}, status=400)
        return Response(status=204)


class PreviewItemSerializer(serializers.Serializer):
    resource_id = serializers.IntegerField()
    resource = serializers.CharField()
    resource_kind = serializers.CharField()
    account_id = serializers.CharField()
    region = serializers.CharField()
    team = serializers.CharField(allow_null=True)
    would = serializers.ChoiceField(choices=["stop", "start", "delete", "recreate", "scale", "restore", "skip", "none"])
    action_kind = serializers.CharField(allow_null=True)
    reason = serializers.CharField()
    error = serializers.CharField(allow_blank=True)
    hourly_saving = serializers.DecimalField(max_digits=38, decimal_places=20, coerce_to_string=True, allow_null=True)
    transition_at = serializers.DateTimeField(allow_null=True)
    next_transition = serializers.DateTimeField(allow_null=True)


class PolicyPreviewSerializer(serializers.Serializer):
    policy = serializers.IntegerField()
    at = serializers.DateTimeField()
    items = PreviewItemSerializer(many=True)


class PolicyPreviewView(StrictQueryParams, APIView):
    """What the policy would do now, resource by resource, with reasons; nothing is acted on or written."""

    @extend_schema(responses={200: PolicyPreviewSerializer, 404: ERRORS}, operation_id="policy_preview")
    def get(self, request: Request, pk: int) -> Response:
        from django.utils import timezone

        policy = get_object_or_404(Policy, pk=pk)
        now = timezone.now()
        items = policy_preview(policy=policy, now=now)
        return Response(PolicyPreviewSerializer({"policy": policy.pk, "at": now, "items": items}).data)


class ActionSnoozeInputSerializer(serializers.Serializer):
    until = serializers.DateTimeField(help_text="Hold the action until this time (ISO 8601 with a zone).")
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class ActionSnoozeView(StrictQueryParams, APIView):
    """Snooze an announced policy action: the owning team's approvers, or admins."""

    permission_classes = [IsAuthenticated]  # who may is the service's question

    @extend_schema(
        request=ActionSnoozeInputSerializer,
        responses={200: ActionSerializer, 400: ERRORS, 403: ERRORS, 404: ERRORS, 409: ERRORS},
        operation_id="action_snooze",
    )
    def post(self, request: Request, pk: int) -> Response:
        get_object_or_404(Action, pk=pk)
        incoming = ActionSnoozeInputSerializer(data=request.data)
        if not incoming.is_valid():
            return Response({"errors": incoming.errors}, status=400)
        try:
            action_snooze(
                action_id=pk,
                user=request.user,
                until=incoming.validated_data["until"],
                reason=incoming.validated_data["reason"],
            )
        except PolicyForbidden as error:
            return Response({"errors": {"detail": [str(error)]}}, status=403)
        except ActionStateError as error:
            return Response({"errors": {"state": [str(error)]}}, status=409)
        except PolicyInputError as error:
            return Response({"errors": {error.field: [str(error)]}}, status=400)
        return Response(ActionSerializer(ActionViewSet.queryset.get(pk=pk)).data)
