"""The Anomalies page: ours and AWS Cost Anomaly Detection's, a detail per anomaly, and feedback.

Any signed-in user who may view costs may give feedback (real, expected, not an anomaly): it is knowledge
about spend, not an action on resources, and the people who know are often a team's viewers. It is stored
with who and when, and "expected" / "not an anomaly" suppress repeats (finops.services.anomalies).
"""

from __future__ import annotations

from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views.generic import TemplateView
from django_tables2 import RequestConfig

from dashboards.access import ViewerRequiredMixin
from dashboards.charts import to_html
from dashboards.charts.anomalies import anomaly_series
from dashboards.tables.anomalies import CostAnomalyTable
from finops.models import CostAnomaly
from finops.selectors.anomalies import cost_anomaly_series
from finops.services.anomalies import cost_anomaly_feedback

FILTERS = ("source", "dimension", "feedback")


class FeedbackForm(forms.Form):
    anomaly = forms.IntegerField()
    feedback = forms.ChoiceField(choices=CostAnomaly.Feedback.choices)


def _anomaly(pk) -> CostAnomaly:
    try:
        return CostAnomaly.objects.select_related("account", "feedback_by").get(pk=int(pk))
    except (TypeError, ValueError, CostAnomaly.DoesNotExist):
        raise Http404("No such anomaly.") from None


def anomaly_detail_context(anomaly: CostAnomaly) -> dict:
    series = cost_anomaly_series(
        dimension=anomaly.dimension, value=anomaly.value, day=anomaly.day, today=timezone.now().date()
    )
    return {
        "anomaly": anomaly,
        "chart": to_html(anomaly_series(series, day=anomaly.day, end_day=anomaly.end_day)) if not series.empty else "",
        "usage_types": anomaly.contributors.get("usage_types") or [],
        "resources": anomaly.contributors.get("resources") or [],
        "root_causes": anomaly.contributors.get("root_causes") or [],
        "feedback_choices": CostAnomaly.Feedback.choices,
    }


class AnomaliesView(ViewerRequiredMixin, TemplateView):
    """The full page; the detail fragment (`?anomaly=<pk>`, HX-Target anomaly-detail); feedback by POST (htmx
    answers the detail fragment, a plain form redirects back)."""

    template_name = "dashboards/anomalies.html"
    detail_template = "dashboards/_anomaly_detail.html"
    per_page = 25

    def get(self, request, *args, **kwargs):
        htmx = request.headers.get("HX-Request") and not request.headers.get("HX-History-Restore-Request")
        if htmx and request.headers.get("HX-Target") == "anomaly-detail":
            response = render(
                request, self.detail_template, anomaly_detail_context(_anomaly(request.GET.get("anomaly")))
            )
        else:
            response = super().get(request, *args, **kwargs)
        patch_vary_headers(response, ["HX-Request", "HX-Target"])
        return response

    def post(self, request, *args, **kwargs):
        form = FeedbackForm(request.POST)
        if not form.is_valid():
            messages.error(request, "Nothing changed: choose real, expected or not an anomaly.")
            return redirect("dashboards:anomalies")
        anomaly = _anomaly(form.cleaned_data["anomaly"])
        anomaly = cost_anomaly_feedback(anomaly=anomaly, feedback=form.cleaned_data["feedback"], user=request.user)
        if request.headers.get("HX-Request"):
            context = anomaly_detail_context(anomaly) | {"saved": True}
            return render(request, self.detail_template, context)
        messages.success(request, f"Feedback saved: {anomaly.get_feedback_display()}.")
        return redirect(f"{reverse('dashboards:anomalies')}?anomaly={anomaly.pk}#anomaly-detail")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        filters = {name: self.request.GET.get(name, "") for name in FILTERS}
        queryset = CostAnomaly.objects.select_related("account", "feedback_by")
        for name, value in filters.items():
            if value == "none" and name == "feedback":
                queryset = queryset.filter(feedback="")
            elif value:
                queryset = queryset.filter(**{name: value})
        query = urlencode({name: value for name, value in filters.items() if value})
        table = CostAnomalyTable(
            queryset.order_by("-day", "-impact", "id"),
            detail_url=f"{reverse('dashboards:anomalies')}?{query}{'&' if query else ''}",
            selected=self.request.GET.get("anomaly"),
        )
        RequestConfig(self.request, paginate={"per_page": self.per_page}).configure(table)
        context.update(
            table=table,
            filters=filters,
            has_anomalies=CostAnomaly.objects.exists(),
            source_choices=CostAnomaly.Source.choices,
            dimension_choices=CostAnomaly.Dimension.choices,
            feedback_choices=[("none", "No feedback yet"), *CostAnomaly.Feedback.choices],
        )
        if self.request.GET.get("anomaly"):
            context["detail"] = anomaly_detail_context(_anomaly(self.request.GET["anomaly"]))
        return context
