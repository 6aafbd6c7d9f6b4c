"""Alerts (read, and acknowledge), notification channels (operators edit any; a team's approvers their team's),
notifications (read)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, viewsets
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import StrictQueryParams
from finops.filtersets import AlertFilterSet, ChannelFilterSet, NotificationFilterSet
from finops.models import Alert, Channel, Notification
from finops.permissions import IsChannelEditorOrReadOnly
from finops.roles import user_can_approve_for_team, user_is_operator
from finops.services.alerts import alert_acknowledge
from finops.services.channels import (
    ChannelForbidden,
    ChannelInputError,
    channel_create,
    channel_delete,
    channel_test_send,
    channel_update,
)


class AlertSerializer(serializers.ModelSerializer):
    kind = serializers.CharField(read_only=True)
    state = serializers.CharField(read_only=True)
    severity = serializers.CharField(read_only=True)
    team = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    acknowledged_by = serializers.CharField(source="acknowledged_by.username", read_only=True, default=None)
    amount = serializers.DecimalField(
        max_digits=38, decimal_places=20, coerce_to_string=True, read_only=True, allow_null=True
    )

    class Meta:
        model = Alert
        fields = [
            "id",
            "kind",
            "key",
            "state",
            "severity",
            "team",
            "title",
            "text",
            "details",
            "amount",
            "opened_at",
            "last_seen_at",
            "resolved_at",
            "acknowledged_at",
            "acknowledged_by",
        ]
        read_only_fields = fields


class ChannelSerializer(serializers.ModelSerializer):
    """Shapes and types only: what a channel may be, and who may write it, is finops.services.channels'."""

    # A plain string: the service says which schemes a webhook may use (http and https).
    webhook_url = serializers.CharField(max_length=1024, required=False, allow_blank=True)
    events = serializers.ListField(child=serializers.CharField(max_length=64), required=False)
    min_amount = serializers.DecimalField(max_digits=38, decimal_places=20, coerce_to_string=True, required=False)

    class Meta:
        model = Channel
        fields = ["id", "team", "name", "webhook_url", "email", "events", "min_amount", "enabled", "created_at"]
        read_only_fields = ["created_at"]


class NotificationSerializer(serializers.ModelSerializer):
    medium = serializers.CharField(read_only=True)
    status = serializers.CharField(read_only=True)

    class Meta:
        model = Notification
        fields = [
            "id",
            "channel",
            "event",
            "subject",
            "medium",
            "status",
            "attempts",
            "response_status",
            "error",
            "created_at",
            "sent_at",
        ]
        read_only_fields = fields


class AlertViewSet(StrictQueryParams, viewsets.ReadOnlyModelViewSet):
    """Alerts, open and resolved, newest first."""

    queryset = Alert.objects.select_related("team", "acknowledged_by")
    serializer_class = AlertSerializer
    filterset_class = AlertFilterSet


class ChannelViewSet(StrictQueryParams, viewsets.ModelViewSet):
    """Notification channels: a team's (team set) or global (team null). Everyone reads; operators and admins
    edit any channel, a team's approvers their own team's channels."""

    queryset = Channel.objects.select_related("team")
    serializer_class = ChannelSerializer
    filterset_class = ChannelFilterSet
    permission_classes = [IsChannelEditorOrReadOnly]

    def perform_create(self, serializer: ChannelSerializer) -> None:
        with _channel_errors():
            serializer.instance = channel_create(user=self.request.user, data=serializer.validated_data)

    def perform_update(self, serializer: ChannelSerializer) -> None:
        with _channel_errors():
            serializer.instance = channel_update(
                user=self.request.user, channel_id=serializer.instance.pk, data=serializer.validated_data
            )

    def perform_destroy(self, instance: Channel) -> None:
        with _channel_errors():
            channel_delete(user=self.request.user, channel_id=instance.pk)


@contextmanager
def _channel_errors() -> Iterator[None]:
    """The service's refusals as API errors: 403, or 400 with the fields' messages."""
    try:
        yield
    except ChannelForbidden as error:
        raise PermissionDenied(str(error)) from None
    except ChannelInputError as error:
        raise serializers.ValidationError(error.errors) from None


class NotificationViewSet(StrictQueryParams, viewsets.ReadOnlyModelViewSet):
    """Every message sent or tried, newest first, with the channel's answer."""

    queryset = Notification.objects.all()
    serializer_class = NotificationSerializer
    filterset_class = NotificationFilterSet


class AlertAcknowledgeView(StrictQueryParams, APIView):
    """Record that you have seen an alert (operators, or approvers of the alert's team). A failed action's
    alert then resolves at the next evaluation; other alerts stay open until their condition clears."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={200: AlertSerializer})
    def post(self, request: Request, pk: int) -> Response:
        alert = get_object_or_404(Alert, pk=pk)
        if not (
            user_is_operator(request.user) or (alert.team_id and user_can_approve_for_team(request.user, alert.team_id))
        ):
            raise PermissionDenied("Acknowledging this alert needs the operator role or approving for its team.")
        return Response(AlertSerializer(alert_acknowledge(alert=alert, user=request.user)).data)


class ChannelTestView(StrictQueryParams, APIView):
    """Send a test message (event "channel.test") to this one channel now, by each of its mediums, whatever its
    events and minimum amount; the answer lists the notifications written, sent or failed. Operators and admins
    test any channel, a team's approvers their team's."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={200: NotificationSerializer(many=True)})
    def post(self, request: Request, pk: int) -> Response:
        channel = get_object_or_404(Channel, pk=pk)
        with _channel_errors():
            sent = channel_test_send(user=request.user, channel_id=channel.pk)
        return Response(NotificationSerializer(sent, many=True).data)
