"""The Anomalies page: ours and AWS Cost Anomaly Detection's, one row per incident (a spike seen along several
dimensions is listed once, with them), a detail per incident, and feedback.

Any signed-in user who may view costs may give feedback (real, expected, not an anomaly): it is knowledge
about spend, not an action on resources, and the people who know are often a team's viewers. It is stored
with who and when, and "expected" / "not an anomaly" suppress repeats (finops.services.anomalies).
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.generic import TemplateView
from django_tables2 import RequestConfig

from dashboards.access import ViewerRequiredMixin
from dashboards.charts.anomalies import anomaly_series
from dashboards.charts.base import to_html
from dashboards.forms.anomalies import FeedbackForm
from dashboards.tables.anomalies import CostAnomalyTable
from dashboards.views.fragments import FragmentMixin
from finops.filtersets import CostAnomalyFilterSet
from finops.models import CostAnomaly, CostAnomalyIncident
from finops.selectors.anomalies import cost_anomaly_incident_get, cost_anomaly_incidents_listed, cost_anomaly_series
from finops.services.anomalies import cost_anomaly_feedback

FILTERS = ("source", "dimension", "feedback")


def incident_or_404(pk) -> CostAnomalyIncident:
    incident = cost_anomaly_incident_get(incident_id=pk)
    if incident is None:
        raise Http404("No such anomaly.")
    return incident


def anomaly_filter_data(filters: dict[str, str]) -> dict[str, str]:
    """The page's filters as CostAnomalyFilterSet's (the API's) parameters: the page's `feedback=none` (no feedback
    yet) is the API's `has_feedback=false`; the other names are the same."""
    data = {name: value for name, value in filters.items() if value}
    if data.get("feedback") == "none":
        del data["feedback"]
        data["has_feedback"] = "false"
    return data


def anomaly_detail_context(incident: CostAnomalyIncident) -> dict:
    """The incident's detail: its largest anomaly's daily cost against the baseline and contributors, and every
    dimension that saw it."""
    anomaly = incident.lead
    series = cost_anomaly_series(
        dimension=anomaly.dimension,
        value=anomaly.value,
        day=incident.day,
        today=timezone.now().date(),
        currency=anomaly.currency,
    )
    return {
        "incident": incident,
        "anomaly": anomaly,
        "dimensions": incident.seen_in,
        "members": sorted(incident.members, key=lambda member: (member.day, -member.impact, member.pk)),
        "chart": to_html(anomaly_series(series, day=incident.day, end_day=incident.end_day))
        if not series.empty
        else "",
        "usage_types": anomaly.contributors.get("usage_types") or [],
        "resources": anomaly.contributors.get("resources") or [],
        "root_causes": anomaly.contributors.get("root_causes") or [],
        "feedback_choices": CostAnomaly.Feedback.choices,
    }


class AnomaliesView(ViewerRequiredMixin, FragmentMixin, TemplateView):
    """The full page; the detail fragment (`?anomaly=<pk>`, HX-Target anomaly-detail); feedback by POST (htmx
    answers the detail fragment, a plain form redirects back)."""

    template_name = "dashboards/anomalies.html"
    detail_template = "dashboards/_anomaly_detail.html"
    fragment_targets = {"anomaly-detail": (detail_template, "detail_fragment")}
    per_page = 25

    def detail_fragment(self) -> dict:
        return anomaly_detail_context(incident_or_404(self.request.GET.get("anomaly")))

    def post(self, request, *args, **kwargs):
        form = FeedbackForm(request.POST)
        if not form.is_valid():
            messages.error(request, "Nothing changed: choose real, expected or not an anomaly.")
            return redirect("dashboards:anomalies")
        incident = incident_or_404(form.cleaned_data["anomaly"])
        cost_anomaly_feedback(incident=incident, feedback=form.cleaned_data["feedback"], user=request.user)
        incident = incident_or_404(incident.pk)
        if request.headers.get("HX-Request"):
            context = anomaly_detail_context(incident) | {"saved": True}
            return render(request, self.detail_template, context)
        messages.success(request, f"Feedback saved: {incident.lead.get_feedback_display()}.")
        return redirect(f"{reverse('dashboards:anomalies')}?anomaly={incident.pk}#anomaly-detail")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        filters = {name: self.request.GET.get(name, "") for name in FILTERS}
        queryset = cost_anomaly_incidents_listed()
        filterset = CostAnomalyFilterSet(anomaly_filter_data(filters), queryset=queryset)
        query = urlencode({name: value for name, value in filters.items() if value})
        table = CostAnomalyTable(
            # A value the FilterSet refuses (no such source, say) matches nothing, as it always has on this page.
            filterset.qs if filterset.is_valid() else queryset.none(),
            detail_url=f"{reverse('dashboards:anomalies')}?{query}{'&' if query else ''}",
            selected=self.request.GET.get("anomaly"),
        )
        RequestConfig(self.request, paginate={"per_page": self.per_page}).configure(table)
        context.update(
            table=table,
            filters=filters,
            has_anomalies=queryset.exists(),
            source_choices=CostAnomaly.Source.choices,
            dimension_choices=CostAnomaly.Dimension.choices,
            feedback_choices=[("none", "No feedback yet"), *CostAnomaly.Feedback.choices],
        )
        if self.request.GET.get("anomaly"):
            context["detail"] = anomaly_detail_context(incident_or_404(self.request.GET["anomaly"]))
        return context
