"""The Alerts page's tables: alerts, notification channels, recent notifications."""

from __future__ import annotations

import django_tables2 as tables
from django.utils.html import format_html

from dashboards.tables.columns import WRAP
from finops.models import Alert, Channel, Notification


def severity_badge(alert: Alert):
    return format_html('<span class="badge severity-{}">{}</span>', alert.severity, alert.get_severity_display())


class AlertTable(tables.Table):
    severity = tables.Column(verbose_name="Severity", empty_values=())
    kind = tables.Column(verbose_name="Kind")
    title = tables.Column(verbose_name="Alert", attrs=WRAP)
    team = tables.Column(verbose_name="Team", default="—")
    opened_at = tables.DateTimeColumn(verbose_name="Opened", format="Y-m-d H:i")
    last_seen_at = tables.DateTimeColumn(verbose_name="Last seen", format="Y-m-d H:i")
    resolved_at = tables.DateTimeColumn(verbose_name="Resolved", format="Y-m-d H:i", default="—")
    acknowledge = tables.Column(verbose_name="", empty_values=(), orderable=False)

    class Meta:
        model = Alert
        fields = ["severity", "kind", "title", "team", "opened_at", "last_seen_at", "resolved_at"]
        orderable = False
        attrs = {"class": "data alerts"}
        row_attrs = {"id": lambda record: f"alert-{record.pk}", "data-state": lambda record: record.state}

    def __init__(self, *args, can_acknowledge=lambda alert: False, csrf_token: str = "", **kwargs):
        self.can_acknowledge = can_acknowledge
        self.csrf_token = csrf_token
        super().__init__(*args, **kwargs)

    def render_severity(self, record: Alert):
        return severity_badge(record)

    def render_kind(self, record: Alert):
        return record.get_kind_display()

    def render_title(self, record: Alert):
        return format_html('<strong>{}</strong><div class="muted">{}</div>', record.title, record.text)

    def render_acknowledge(self, record: Alert):
        if record.acknowledged_at:
            who = record.acknowledged_by.get_username() if record.acknowledged_by else "someone"
            when = f"{record.acknowledged_at:%Y-%m-%d %H:%M}"
            return format_html('<span class="muted">Acknowledged by {} {}</span>', who, when)
        if record.state != Alert.State.OPEN or not self.can_acknowledge(record):
            return ""
        return format_html(
            '<form method="post"><input type="hidden" name="csrfmiddlewaretoken" value="{}">'
            '<input type="hidden" name="acknowledge" value="{}"><button type="submit">Acknowledge</button></form>',
            self.csrf_token,
            record.pk,
        )


class ChannelTable(tables.Table):
    name = tables.Column(verbose_name="Channel")
    team = tables.Column(verbose_name="Team", default="All teams (global)")
    destinations = tables.Column(verbose_name="Sends to", empty_values=(), attrs=WRAP)
    events = tables.Column(verbose_name="Events", empty_values=())
    min_amount = tables.Column(verbose_name="Minimum amount")
    enabled = tables.BooleanColumn(verbose_name="Enabled")
    # Edit and "Send test message", on the rows the user may edit (excluded for someone who edits none).
    actions = tables.Column(verbose_name="", empty_values=(), orderable=False)

    class Meta:
        model = Channel
        fields = ["name", "team", "min_amount", "enabled"]
        sequence = ["name", "team", "destinations", "events", "min_amount", "enabled", "actions"]
        orderable = False
        attrs = {"id": "channels-table", "class": "data"}
        row_attrs = {"id": lambda record: f"channel-{record.pk}"}
        empty_text = "No channel yet."

    def __init__(self, *args, can_edit=lambda channel: False, csrf_token: str = "", page_url: str = "", **kwargs):
        self.can_edit = can_edit
        self.csrf_token = csrf_token
        self.page_url = page_url
        super().__init__(*args, **kwargs)

    def render_actions(self, record: Channel):
        if not self.can_edit(record):
            return ""
        return format_html(
            '<a href="{}?channel={}#channel-editor" class="channel-edit">Edit</a> '
            '<form method="post" action="{}" class="channel-test" style="display:inline">'
            '<input type="hidden" name="csrfmiddlewaretoken" value="{}">'
            '<input type="hidden" name="command" value="channel_test"><input type="hidden" name="channel" value="{}">'
            '<button type="submit" class="small">Send test message</button></form>',
            self.page_url,
            record.pk,
            self.page_url,
            self.csrf_token,
            record.pk,
        )

    def render_destinations(self, record: Channel):
        parts = []
        if record.webhook_url:
            host = record.webhook_url.split("/")[2] if "//" in record.webhook_url else record.webhook_url
            parts.append(f"Webhook ({host})")
        if record.email:
            parts.append(record.email)
        return ", ".join(parts)

    def render_events(self, record: Channel):
        return ", ".join(record.events) if record.events else "every event"

    def render_min_amount(self, value):
        return f"${value:,.2f}" if value else "—"


class NotificationTable(tables.Table):
    created_at = tables.DateTimeColumn(verbose_name="When", format="Y-m-d H:i")
    event = tables.Column(verbose_name="Event")
    subject = tables.Column(verbose_name="About")
    channel = tables.Column(verbose_name="Channel")
    medium = tables.Column(verbose_name="By")
    status = tables.Column(verbose_name="Status")
    attempts = tables.Column(verbose_name="Tries", attrs={"td": {"class": "num"}, "th": {"class": "num"}})
    error = tables.Column(verbose_name="Answer", empty_values=(), attrs=WRAP)

    class Meta:
        model = Notification
        fields = ["created_at", "event", "subject", "channel", "medium", "status", "attempts"]
        orderable = False
        attrs = {"id": "notifications-table", "class": "data"}
        row_attrs = {"data-status": lambda record: record.status}
        empty_text = "Nothing sent yet."

    def render_channel(self, record: Notification):
        return record.channel.name

    def render_status(self, record: Notification):
        css = "succeeded" if record.status == Notification.Status.SENT else "failed"
        return format_html('<span class="status-{}">{}</span>', css, record.get_status_display())

    def render_error(self, record: Notification):
        if record.error:
            return record.error
        return f"HTTP {record.response_status}" if record.response_status else "—"
