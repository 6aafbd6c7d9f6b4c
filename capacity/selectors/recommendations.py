"""Capacity reads for the Recommendations page: the KPIs, the list, one recommendation and its action, and the
teams' maintenance windows. The list is narrowed by the API's RecommendationFilterSet (capacity/filtersets.py)."""

from __future__ import annotations

from django.db.models import Count, F, QuerySet, Sum

from capacity.models import Action, Recommendation, TeamSettings
from finops.models import Team
from finops.selectors.teams import teams_listed

# An approved recommendation whose action has not finished yet: its savings are on their way.
AWAITING_ACTION = (Action.State.PLANNED, Action.State.ANNOUNCED, Action.State.RUNNING)


def recommendations_exist() -> bool:
    return Recommendation.objects.exists()


def recommendations_summary() -> dict:
    """The KPIs: open recommendations and their savings, approved ones awaiting their action, open savings by team."""
    open_recommendations = Recommendation.objects.filter(state=Recommendation.State.OPEN)
    by_team = (
        open_recommendations.values("team__name")
        .annotate(count=Count("pk"), savings=Sum("monthly_savings"))
        .order_by(F("savings").desc(nulls_last=True), "team__name")
    )
    return {
        "open": open_recommendations.aggregate(count=Count("pk"), savings=Sum("monthly_savings")),
        "awaiting": Recommendation.objects.filter(
            state=Recommendation.State.APPROVED, action__state__in=AWAITING_ACTION
        ).aggregate(count=Count("pk"), savings=Sum("monthly_savings")),
        "by_team": [{"team": row["team__name"], "count": row["count"], "savings": row["savings"]} for row in by_team],
        "currencies": sorted(set(open_recommendations.values_list("currency", flat=True))),
    }


def recommendations_by_savings() -> QuerySet[Recommendation]:
    """Every recommendation with its account, team and resource loaded, the biggest savings first."""
    return Recommendation.objects.select_related("account", "team", "resource").order_by(
        F("monthly_savings").desc(nulls_last=True), "id"
    )


def recommendation_teams() -> list[tuple[str, str]]:
    """(slug, name) of the teams that have recommendations, by name: the page's team filter choices."""
    return list(
        Team.objects.filter(recommendations__isnull=False).distinct().order_by("name").values_list("slug", "name")
    )


def recommendation_detail(*, recommendation_id: str) -> Recommendation | None:
    """One recommendation with what its detail panel reads (account, team, resource, audit trail); None when there
    is none or the id (posted or typed text) is no number."""
    if not str(recommendation_id).isdigit():
        return None
    return (
        Recommendation.objects.select_related("account", "team", "resource")
        .prefetch_related("transitions__user")
        .filter(pk=recommendation_id)
        .first()
    )


def actions_with_trail() -> QuerySet[Action]:
    """Actions with their account and audit trail (and each transition's user) loaded."""
    return Action.objects.select_related("account").prefetch_related("transitions__user")


def action_with_recommendation(*, action_id: str) -> Action | None:
    """The action with this id (posted text; empty means none) and its recommendation."""
    return Action.objects.select_related("recommendation").filter(pk=action_id or 0).first()


def team_maintenance_windows() -> list[tuple[Team, str]]:
    """Every team, by name, with its maintenance window ("" when it has none)."""
    windows = dict(TeamSettings.objects.values_list("team_id", "maintenance_window"))
    return [(team, windows.get(team.pk, "")) for team in teams_listed()]
