"""The Recommendations page: KPIs, a filterable table, a detail panel with the utilisation chart, evidence,
audit trail and action (estimated beside realised savings), decisions, re-planning after a dry run, and the
teams' maintenance windows."""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import urlencode

from django.contrib import messages
from django.http import Http404, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.generic import TemplateView
from django_tables2 import RequestConfig

from capacity.filtersets import RISK_CHOICES, ActionFilterSet, RecommendationFilterSet
from capacity.models import Recommendation, Resource
from capacity.selectors.recommendations import (
    action_with_recommendation,
    actions_with_trail,
    recommendation_alternatives,
    recommendation_detail,
    recommendation_teams,
    recommendations_by_savings,
    recommendations_exist,
    recommendations_summary,
    team_maintenance_windows,
)
from capacity.selectors.utilisation import resource_utilisation_hours
from capacity.services.approvals import (
    DECIDABLE,
    RecommendationForbidden,
    RecommendationInputError,
    RecommendationStateError,
    action_replan,
    action_replannable,
    recommendation_approve,
    recommendation_reject,
    recommendation_snooze,
    team_maintenance_window_set,
    user_can_set_window,
)
from dashboards.access import ViewerRequiredMixin
from dashboards.charts.base import to_html
from dashboards.charts.utilisation import resource_utilisation
from dashboards.forms.recommendations import DECISION_PAST, RecommendationDecisionForm
from dashboards.tables.recommendations import (
    RecommendationSavingsByTeamTable,
    RecommendationTable,
    recommendation_candidate_rows,
    recommendation_evidence_rows,
    recommendation_option_rows,
    recommendation_resource_label,
    recommendations_csv,
)
from dashboards.views.fragments import FragmentMixin
from finops.roles import user_can_approve_for_team
from finops.selectors.teams import team_get

RECOMMENDATION_FILTERS = ("state", "team", "source", "kind", "risk")
# Query parameters the page keeps when it links back to itself (after a decision, from a row to its detail).
RECOMMENDATION_QUERY = (*RECOMMENDATION_FILTERS, "sort", "page")
SNOOZE_DEFAULT_DAYS = 14


def recommendation_page_query(data, **extra) -> str:
    """The page's own query string from `data` (GET, or a posted return_query): known parameters only."""
    # An empty state is kept: it means any state, where a missing one means open.
    params = [
        (name, data[name])
        for name in RECOMMENDATION_QUERY
        if data.get(name) not in (None, "") or (name == "state" and name in data)
    ]
    params += [(name, value) for name, value in extra.items()]
    return urlencode(params)


def csv_query(data) -> list[tuple[str, str]]:
    """The filters the CSV applies: the table's, an empty state kept (it means any state)."""
    return [(name, data[name]) for name in RECOMMENDATION_FILTERS if data.get(name) or name == "state"]


def recommendation_or_404(pk: str) -> Recommendation:
    """One recommendation with what its detail panel reads, or 404."""
    recommendation = recommendation_detail(recommendation_id=pk)
    if recommendation is None:
        raise Http404("No such recommendation.")
    return recommendation


UTILISATION_DEFAULT_DAYS = 14


def recommendation_lookback(recommendation: Recommendation) -> tuple[datetime, datetime]:
    """The hours the recommendation was judged on: the evidence's look-back when it states one (Costplane's
    GPU right-sizing does), else the 14 days before it was last seen (Compute Optimizer's default)."""
    evidence = recommendation.evidence or {}
    try:
        return datetime.fromisoformat(evidence["lookback_start"]), datetime.fromisoformat(evidence["lookback_end"])
    except (KeyError, TypeError, ValueError):
        end = recommendation.last_seen.replace(minute=0, second=0, microsecond=0)
        return end - timedelta(days=UTILISATION_DEFAULT_DAYS), end


def recommendation_utilisation_chart(recommendation: Recommendation) -> dict:
    """The resource's hourly utilisation over the look-back, as chart HTML, or why there is none."""
    start, end = recommendation_lookback(recommendation)
    context = {"utilisation_start": start, "utilisation_end": end, "utilisation_chart": ""}
    resource = recommendation.resource
    if resource is None:
        context["utilisation_missing"] = "The resource is not in Costplane's inventory: no utilisation is stored."
        return context
    frame = resource_utilisation_hours(resource=resource, start=start, end=end)
    values = frame[["average", "total"]]
    if frame.empty or not values.notna().any().any():
        context["utilisation_missing"] = "CloudWatch published no datapoints for this resource in the look-back."
        return context
    invocations = resource.kind == Resource.Kind.SAGEMAKER_ENDPOINT
    context["utilisation_chart"] = to_html(resource_utilisation(frame, start=start, end=end, invocations=invocations))
    return context


def maintenance_windows(user) -> list[dict]:
    """Every team, its maintenance window and whether `user` may set it."""
    return [
        {"team": team, "window": window, "can_set": user_can_set_window(user, team)}
        for team, window in team_maintenance_windows()
    ]


class RecommendationsView(ViewerRequiredMixin, FragmentMixin, TemplateView):
    """Recommendations to approve, reject or snooze: KPIs, a filterable table and a detail panel per row.

    One view, several renderings: the full page; the list panel (filters, table, pages) for its htmx form and
    links (HX-Target recommendations-list); a recommendation's detail (`?recommendation=<pk>`, HX-Target
    recommendation-detail) with its evidence, audit trail and action, which the full page also shows when opened
    with that parameter. Decisions are plain POST forms calling capacity.services.approvals, then a redirect
    back to the page with the same filters and the detail open.
    """

    template_name = "dashboards/recommendations.html"
    fragment_targets = {
        "recommendation-detail": ("dashboards/_recommendation_detail.html", "detail_fragment"),
        "recommendations-list": ("dashboards/_recommendation_list.html", "list_context"),
    }
    forbidden_template = "dashboards/_recommendation_forbidden.html"
    per_page = 25

    def detail_fragment(self) -> dict:
        return self.detail_context(self.request.GET.get("recommendation", ""))

    def get(self, request, *args, **kwargs):
        if request.GET.get("format") == "csv":
            return self.csv_response()
        return super().get(request, *args, **kwargs)

    def csv_response(self) -> HttpResponse:
        """The filtered list as CSV, every page of it, in the table's order: the same filters as the table."""
        filterset, queryset, _ = self.filtered()
        response = HttpResponse(
            recommendations_csv(filterset.qs if filterset.is_valid() else queryset.none()),
            content_type="text/csv; charset=utf-8",
        )
        response["Content-Disposition"] = 'attachment; filename="recommendations.csv"'
        return response

    def post(self, request, *args, **kwargs):
        if request.POST.get("command") == "window":
            return self.window_post(request)
        if request.POST.get("command") == "replan":
            return self.replan_post(request)
        form = RecommendationDecisionForm(request.POST)
        pk = request.POST.get("recommendation", "")
        recommendation = recommendation_or_404(pk)
        if not user_can_approve_for_team(request.user, recommendation.team_id):
            return self.forbidden(recommendation)
        back_query = QueryDict(request.POST.get("return_query", ""))
        back = f"{reverse('dashboards:recommendations')}?"
        back += recommendation_page_query(back_query, recommendation=recommendation.pk) + "#recommendation-detail"
        if not form.is_valid():
            for errors in form.errors.values():
                for error in errors:
                    messages.error(request, f"Nothing changed: {error}")
            return redirect(back)
        command, reason = form.cleaned_data["command"], form.cleaned_data["reason"]
        label = f"{recommendation_resource_label(recommendation)} ({recommendation.current_configuration or '—'})"
        try:
            if command == "approve":
                action = recommendation_approve(recommendation_id=recommendation.pk, user=request.user, reason=reason)
                done = f"Approved {label}: action {action.pk} is planned (dry run)."
            elif command == "reject":
                recommendation_reject(recommendation_id=recommendation.pk, user=request.user, reason=reason)
                done = f"Rejected {label}."
            else:
                until = form.cleaned_data["until"]
                recommendation_snooze(
                    recommendation_id=recommendation.pk, user=request.user, until=until, reason=reason
                )
                done = f"Snoozed {label} until {until.isoformat()}."
        except RecommendationForbidden:
            return self.forbidden(recommendation)
        except RecommendationStateError as error:
            messages.warning(
                request,
                f"Nothing changed: this recommendation is {error.state}, and only open or snoozed ones can be "
                f"{DECISION_PAST[command]}.",
            )
        except RecommendationInputError as error:
            messages.error(request, f"Nothing changed: {error}")
        else:
            messages.success(request, done)
        return redirect(back)

    def window_post(self, request):
        team_id = request.POST.get("team", "")
        team = team_get(team_id=team_id)
        if team is None:
            raise Http404("No such team.")
        try:
            saved = team_maintenance_window_set(team=team, user=request.user, window=request.POST.get("window", ""))
        except RecommendationForbidden as error:
            messages.error(request, f"Nothing changed: {error}")
        except RecommendationInputError as error:
            messages.error(request, f"Nothing changed for {team.name}: {error}")
        else:
            window = saved.maintenance_window
            messages.success(
                request,
                f"{team.name}'s maintenance window is now {window}."
                if window
                else f"{team.name} has no maintenance window now: its approved actions wait until it sets one.",
            )
        return redirect(f"{reverse('dashboards:recommendations')}#maintenance-windows")

    def replan_post(self, request):
        action = action_with_recommendation(action_id=request.POST.get("action", ""))
        if action is None or action.recommendation is None:
            raise Http404("No such action.")
        back_query = QueryDict(request.POST.get("return_query", ""))
        back = f"{reverse('dashboards:recommendations')}?"
        back += recommendation_page_query(back_query, recommendation=action.recommendation_id)
        back += "#recommendation-detail"
        try:
            action_replan(action_id=action.pk, user=request.user)
        except RecommendationForbidden:
            return self.forbidden(action.recommendation)
        except RecommendationInputError as error:
            messages.error(request, f"Nothing changed: {error}")
        else:
            messages.success(request, f"Action {action.pk} is planned again, for real: it runs in the team's window.")
        return redirect(back)

    def forbidden(self, recommendation: Recommendation):
        context = {"recommendation": recommendation, "team": recommendation.team}
        return render(self.request, self.forbidden_template, context, status=403)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["has_recommendations"] = recommendations_exist()
        if not context["has_recommendations"]:
            return context
        context["summary"] = recommendations_summary()
        context["summary_table"] = RecommendationSavingsByTeamTable(context["summary"]["by_team"])
        context["windows"] = maintenance_windows(self.request.user)
        context.update(self.list_context())
        if self.request.GET.get("recommendation"):
            context.update(self.detail_context(self.request.GET["recommendation"]), detail=True)
        return context

    def filtered(self) -> tuple[RecommendationFilterSet, object, QueryDict]:
        """RecommendationFilterSet (the API's) over GET; the state defaults to open, `state=` means any."""
        data = self.request.GET.copy()
        if "state" not in data:
            data["state"] = Recommendation.State.OPEN
        queryset = recommendations_by_savings()
        filterset = RecommendationFilterSet(
            {name: data[name] for name in RECOMMENDATION_FILTERS if data.get(name)}, queryset=queryset
        )
        return filterset, queryset, data

    def list_context(self) -> dict:
        filterset, queryset, data = self.filtered()
        query = recommendation_page_query(data)
        table = RecommendationTable(
            filterset.qs if filterset.is_valid() else queryset.none(),
            detail_url=f"{reverse('dashboards:recommendations')}?{query}{'&' if query else ''}",
            selected=self.request.GET.get("recommendation"),
        )
        RequestConfig(self.request, paginate={"per_page": self.per_page}).configure(table)
        table.alternatives = recommendation_alternatives(recommendations=[row.record for row in table.paginated_rows])
        return {
            "recommendations_table": table,
            "filters": {name: data.get(name, "") for name in RECOMMENDATION_FILTERS},
            "filter_errors": [f"{field}: {error}" for field, errors in filterset.errors.items() for error in errors],
            "state_choices": Recommendation.State.choices,
            "source_choices": Recommendation.Source.choices,
            "kind_choices": Recommendation.Kind.choices,
            "risk_choices": RISK_CHOICES,
            "csv_url": f"{reverse('dashboards:recommendations')}?{urlencode([*csv_query(data), ('format', 'csv')])}",
            "team_choices": recommendation_teams(),
        }

    def detail_context(self, pk: str) -> dict:
        recommendation = recommendation_or_404(pk)
        # The action an approval planned: ActionFilterSet (the API's) over the actions, by recommendation.
        action = ActionFilterSet({"recommendation": recommendation.pk}, queryset=actions_with_trail()).qs.first()
        today = timezone.now().date()
        evidence = recommendation.evidence or {}
        can_decide = user_can_approve_for_team(self.request.user, recommendation.team_id)
        return recommendation_utilisation_chart(recommendation) | {
            "recommendation": recommendation,
            "resource_label": recommendation_resource_label(recommendation),
            "transitions": list(recommendation.transitions.all()),
            "action": action,
            "action_transitions": list(action.transitions.all()) if action else [],
            "evidence_rows": recommendation_evidence_rows(evidence),
            "thresholds": evidence.get("thresholds") or {},
            "candidates": recommendation_candidate_rows(evidence.get("candidates") or []),
            "utilization_metrics": evidence.get("utilization_metrics") or [],
            "options": recommendation_option_rows(recommendation.options or []),
            "can_decide": can_decide,
            "can_replan": bool(action) and can_decide and action_replannable(action),
            "decidable": recommendation.state in DECIDABLE,
            "snooze_default": today + timedelta(days=SNOOZE_DEFAULT_DAYS),
            "snooze_min": today + timedelta(days=1),
            "return_query": recommendation_page_query(self.request.GET),
        }
