"""The Anomalies page's form: feedback on one anomaly."""

from __future__ import annotations

from django import forms

from finops.models import CostAnomaly


class FeedbackForm(forms.Form):
    anomaly = forms.IntegerField()
    feedback = forms.ChoiceField(choices=CostAnomaly.Feedback.choices)
