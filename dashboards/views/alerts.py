"""The Alerts page: open alerts first, the recently resolved, the channels (with their editor), and what was sent."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.middleware.csrf import get_token
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views.generic import TemplateView

from dashboards.access import ViewerRequiredMixin
from dashboards.forms.alerts import ChannelForm
from dashboards.tables.alerts import AlertTable, ChannelTable, NotificationTable
from finops.filtersets import AlertFilterSet, ChannelFilterSet, NotificationFilterSet
from finops.models import Alert, Channel, Notification
from finops.roles import user_can_approve_for_team, user_is_operator
from finops.selectors.alerts import (
    alerts_by_resolution,
    alerts_by_severity,
    channel_get,
    channels_listed,
    notifications_recent,
)
from finops.services.alerts import alert_acknowledge
from finops.services.channels import (
    ChannelForbidden,
    ChannelInputError,
    channel_can_edit,
    channel_can_edit_any,
    channel_create,
    channel_delete,
    channel_team_ids_editable,
    channel_test_send,
    channel_update,
)

RESOLVED_SHOWN = 50
NOTIFICATIONS_SHOWN = 50


def _can_acknowledge(user, alert: Alert) -> bool:
    return user_is_operator(user) or (alert.team_id is not None and user_can_approve_for_team(user, alert.team_id))


class AlertsView(ViewerRequiredMixin, TemplateView):
    template_name = "dashboards/alerts.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        user = self.request.user
        # The API's FilterSets say what open, resolved and failed mean, here as in /api/v1/alerts and notifications.
        open_alerts = list(AlertFilterSet({"state": Alert.State.OPEN}, queryset=alerts_by_severity()).qs)
        resolved = list(
            AlertFilterSet({"state": Alert.State.RESOLVED}, queryset=alerts_by_resolution()).qs[:RESOLVED_SHOWN]
        )
        table_options = {
            "can_acknowledge": lambda alert: _can_acknowledge(user, alert),
            "csrf_token": get_token(self.request),
        }
        context["open_count"] = len(open_alerts)
        context["open_table"] = AlertTable(
            open_alerts,
            attrs={"id": "open-alerts", "class": "data alerts"},
            empty_text="No open alert.",
            **table_options,
        )
        context["resolved_table"] = AlertTable(
            resolved,
            attrs={"id": "resolved-alerts", "class": "data alerts"},
            empty_text="Nothing resolved yet.",
            exclude=["acknowledge"],
            **table_options,
        )
        context.update(self.channels_context(kwargs))
        notifications = NotificationFilterSet(queryset=notifications_recent()).qs
        context["notifications_table"] = NotificationTable(notifications[:NOTIFICATIONS_SHOWN])
        failed = NotificationFilterSet({"status": Notification.Status.FAILED}, queryset=notifications_recent())
        context["failed_count"] = failed.qs.count()
        return context

    def post(self, request, *args, **kwargs):
        command = request.POST.get("command", "")
        if command in CHANNEL_COMMANDS:
            if not channel_can_edit_any(user=request.user):
                raise PermissionDenied("Editing channels needs the operator or admin role, or to approve for a team.")
            return getattr(self, CHANNEL_COMMANDS[command])(request)
        alert = get_object_or_404(Alert, pk=request.POST.get("acknowledge") or 0)
        if not _can_acknowledge(request.user, alert):
            raise PermissionDenied("Acknowledging this alert needs the operator role or approving for its team.")
        alert_acknowledge(alert=alert, user=request.user)
        messages.success(request, f"Acknowledged: {alert.title}")
        return redirect("dashboards:alerts")

    # Channels: operators and admins edit any; a team's approvers their own team's (finops.services.channels).
    # `?channel=<pk>|new` opens the editor; saves, deletes and tests are POST forms that redirect back with a
    # message; an invalid channel re-renders the editor with the errors next to their fields (400).

    def channels_context(self, kwargs: dict) -> dict:
        user = self.request.user
        page_url = reverse("dashboards:alerts")
        can_edit = channel_can_edit_any(user=user)
        context = {
            "can_edit_channels": can_edit,
            "page_url": page_url,
            "channels_table": ChannelTable(
                ChannelFilterSet(queryset=channels_listed()).qs,
                can_edit=lambda channel: channel_can_edit(user=user, team_id=channel.team_id),
                csrf_token=get_token(self.request),
                page_url=page_url,
                exclude=[] if can_edit else ["actions"],
            ),
        }
        if not can_edit or "channel_form" in kwargs:
            return context
        editable = channel_team_ids_editable(user=user)
        chosen = self.request.GET.get("channel", "")
        if chosen and chosen != "new":
            editing = self.channel_or_404(chosen)
            if not channel_can_edit(user=user, team_id=editing.team_id):
                raise PermissionDenied("You may not edit this channel.")
            form = ChannelForm(editable_team_ids=editable, instance=editing)
            return context | {"channel_form": form, "channel_editing": editing, "channel_editor_open": True}
        form = ChannelForm(editable_team_ids=editable)
        return context | {"channel_form": form, "channel_editing": None, "channel_editor_open": chosen == "new"}

    @staticmethod
    def channel_or_404(pk: str) -> Channel:
        channel = channel_get(channel_id=pk)
        if channel is None:
            raise Http404("No such channel.")
        return channel

    def channel_save_post(self, request):
        user = request.user
        editing = self.channel_or_404(request.POST["channel"]) if request.POST.get("channel") else None
        # Refuse before the form speaks: someone posting a channel they may not edit gets 403, not field errors.
        posted_team = request.POST.get("team", "")
        if (editing is not None and not channel_can_edit(user=user, team_id=editing.team_id)) or (
            posted_team.isdigit() and not channel_can_edit(user=user, team_id=int(posted_team))
        ):
            raise PermissionDenied("You may not edit this team's channels.")
        form = ChannelForm(request.POST, editable_team_ids=channel_team_ids_editable(user=user), instance=editing)
        if form.is_valid():
            try:
                if editing is None:
                    channel = channel_create(user=user, data=form.channel_values())
                else:
                    channel = channel_update(user=user, channel_id=editing.pk, data=form.channel_values())
            except ChannelForbidden as error:
                raise PermissionDenied(str(error)) from None
            except ChannelInputError as error:
                for field, field_errors in error.errors.items():
                    for message in field_errors:
                        form.add_error(field if field in form.fields else None, message)
            else:
                verb = "Added" if editing is None else "Saved"
                state = "" if channel.enabled else " (disabled: it sends nothing)"
                messages.success(request, f"{verb} channel {channel.name}{state}.")
                return redirect(f"{reverse('dashboards:alerts')}#channel-{channel.pk}")
        context = self.get_context_data(channel_form=form, channel_editing=editing, channel_editor_open=True)
        return self.render_to_response(context, status=400)

    def channel_delete_post(self, request):
        channel = self.channel_or_404(request.POST.get("channel", ""))
        try:
            channel_delete(user=request.user, channel_id=channel.pk)
        except ChannelForbidden as error:
            raise PermissionDenied(str(error)) from None
        messages.success(request, f"Deleted channel {channel.name}.")
        return redirect(f"{reverse('dashboards:alerts')}#channels-panel")

    def channel_test_post(self, request):
        channel = self.channel_or_404(request.POST.get("channel", ""))
        try:
            sent = channel_test_send(user=request.user, channel_id=channel.pk)
        except ChannelForbidden as error:
            raise PermissionDenied(str(error)) from None
        for notification in sent:
            medium = notification.get_medium_display().lower()
            if notification.status == Notification.Status.SENT:
                messages.success(request, f"Sent a test message to {channel.name} by {medium}.")
            else:
                messages.error(request, f"The test message to {channel.name} by {medium} failed: {notification.error}")
        return redirect(f"{reverse('dashboards:alerts')}#channel-{channel.pk}")


CHANNEL_COMMANDS = {
    "channel_save": "channel_save_post",
    "channel_delete": "channel_delete_post",
    "channel_test": "channel_test_post",
}
