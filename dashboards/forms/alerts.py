"""The Alerts page's channel editor form.

It only turns the posted text into values; what a channel may be (http(s) webhooks, known events, somewhere
to send) and who may write it are finops.services.channels' questions, whose answers the view puts next to
the fields they are about.
"""

from __future__ import annotations

from typing import Any

from django import forms

from finops.models import Channel
from finops.selectors.teams import teams_listed
from finops.services.channels import EVENTS

GLOBAL_LABEL = "All teams (global)"


class ChannelForm(forms.Form):
    """Add or edit a channel. `editable_team_ids` is None for someone who edits every channel (operators,
    admins: any team or none, i.e. global); otherwise the teams whose approver is editing (one is required)."""

    name = forms.CharField(max_length=100, help_text="e.g. vision-oncall or #ml-costs")
    team = forms.ModelChoiceField(queryset=teams_listed(team_ids=[]), required=False, empty_label=GLOBAL_LABEL)
    webhook_url = forms.CharField(
        max_length=1024,
        required=False,
        label="Webhook URL",
        help_text="A Slack-compatible incoming webhook (http:// or https://).",
        # type=text (the page's form styling), with the URL keyboard on phones.
        widget=forms.TextInput(attrs={"placeholder": "https://hooks.slack.com/services/…", "inputmode": "url"}),
    )
    email = forms.CharField(
        max_length=254, required=False, label="Email", widget=forms.TextInput(attrs={"inputmode": "email"})
    )
    events = forms.MultipleChoiceField(
        choices=list(EVENTS.items()),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: every event.",
    )
    min_amount = forms.DecimalField(
        min_value=0,
        decimal_places=2,
        max_digits=20,
        required=False,
        initial=0,
        label="Minimum amount (USD)",
        help_text="Events carrying a smaller amount (e.g. monthly savings) are not sent.",
    )
    enabled = forms.BooleanField(required=False, initial=True)

    def __init__(self, *args, editable_team_ids: set[int] | None, instance: Channel | None = None, **kwargs):
        if instance is not None and "initial" not in kwargs:
            kwargs["initial"] = {
                "name": instance.name,
                "team": instance.team_id,
                "webhook_url": instance.webhook_url,
                "email": instance.email,
                "events": list(instance.events),
                "min_amount": instance.min_amount,
                "enabled": instance.enabled,
            }
        super().__init__(*args, **kwargs)
        self.instance = instance
        team = self.fields["team"]
        if editable_team_ids is None:
            team.queryset = teams_listed()
        else:
            team.queryset = teams_listed(team_ids=editable_team_ids)
            team.required = True
            team.empty_label = None
            team.help_text = "Your team's channels hear that team's events."

    def channel_values(self) -> dict[str, Any]:
        """The cleaned values, as finops.services.channels takes them."""
        data = self.cleaned_data
        return {
            "name": data["name"],
            "team": data["team"],
            "webhook_url": data["webhook_url"],
            "email": data["email"],
            "events": list(data["events"]),
            "min_amount": data["min_amount"] if data["min_amount"] is not None else 0,
            "enabled": data["enabled"],
        }
