"""The Recommendations page's form: a decision on one recommendation."""

from __future__ import annotations

from django import forms

# The commands a reviewer may post, with the past tense the page's messages use.
DECISION_PAST = {"approve": "approved", "reject": "rejected", "snooze": "snoozed"}


class RecommendationDecisionForm(forms.Form):
    """A decision posted from a recommendation's detail panel; who may decide, and from which state, is the
    service's question. A rejection must say why; a snooze needs its end date."""

    recommendation = forms.IntegerField(widget=forms.HiddenInput)
    command = forms.ChoiceField(choices=[(name, name) for name in DECISION_PAST])
    reason = forms.CharField(required=False, max_length=2000, strip=True)
    until = forms.DateField(required=False)
    return_query = forms.CharField(required=False)

    def clean(self):
        data = super().clean()
        if data.get("command") == "reject" and not data.get("reason"):
            self.add_error("reason", "A rejection needs a reason.")
        if data.get("command") == "snooze" and not data.get("until"):
            self.add_error("until", "Choose the date the snooze ends.")
        return data
