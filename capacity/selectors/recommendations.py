"""Capacity reads for the Recommendations page: the KPIs, the list, one recommendation and its action, and the
teams' maintenance windows. The list is narrowed by the API's RecommendationFilterSet (capacity/filtersets.py).

Decisions:
- A resource may have several open recommendations at once: one per source and kind (Compute Optimizer's right-size
  to g5.xlarge, Costplane's to g6e.12xlarge; an idle endpoint's delete beside a right-size). They are alternatives:
  only one of them can be carried out, so every total counts one saving per resource, the largest estimated one
  (the first recommendation on a tie), and the others are shown as its alternatives, never added.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, F, QuerySet, Sum, Window
from django.db.models.functions import RowNumber

from capacity.models import Action, Recommendation, TeamSettings
from finops.models import Team
from finops.selectors.teams import teams_listed

# An approved recommendation whose action has not finished yet: its savings are on their way.
AWAITING_ACTION = (Action.State.PLANNED, Action.State.ANNOUNCED, Action.State.RUNNING)
# What names one resource across sources (the ARN as each source states it; both state the same one).
RESOURCE_KEY = ("account_id", "region", "resource_arn")
BEST_FIRST = (F("monthly_savings").desc(nulls_last=True), F("id").asc())


def recommendations_exist() -> bool:
    return Recommendation.objects.exists()


def recommendations_best_per_resource(recommendations: QuerySet[Recommendation]) -> QuerySet[Recommendation]:
    """Of `recommendations`, the one per resource with the largest estimated saving (the first on a tie): what a
    total counts for the resource, its other recommendations being alternatives to it."""
    ranked = recommendations.annotate(
        rank=Window(RowNumber(), partition_by=[F(name) for name in RESOURCE_KEY], order_by=list(BEST_FIRST))
    )
    return Recommendation.objects.filter(pk__in=ranked.filter(rank=1).values("pk"))


def recommendations_summary() -> dict:
    """The KPIs: open recommendations, the resources they are for and their savings (one per resource, the best),
    approved ones awaiting their action (likewise), open savings by team.

    `open`: count (recommendations), resources, savings (the best saving per resource, summed), with_alternatives
    (resources with more than one open recommendation) and alternatives_savings (what adding the alternatives too
    would have overstated, kept out of `savings`).
    """
    open_recommendations = Recommendation.objects.filter(state=Recommendation.State.OPEN)
    counted = recommendations_best_per_resource(open_recommendations)
    everything = open_recommendations.aggregate(count=Count("pk"), savings=Sum("monthly_savings"))
    best = counted.aggregate(resources=Count("pk"), savings=Sum("monthly_savings"))
    with_alternatives = (
        open_recommendations.values(*RESOURCE_KEY).annotate(n=Count("pk")).filter(n__gt=1).order_by().count()
    )
    recommendation_counts = dict(
        open_recommendations.values("team__name").annotate(n=Count("pk")).order_by().values_list("team__name", "n")
    )
    by_team = (
        counted.values("team__name")
        .annotate(resources=Count("pk"), savings=Sum("monthly_savings"))
        .order_by(F("savings").desc(nulls_last=True), "team__name")
    )
    awaiting = Recommendation.objects.filter(state=Recommendation.State.APPROVED, action__state__in=AWAITING_ACTION)
    return {
        "open": {
            "count": everything["count"],
            "resources": best["resources"],
            "savings": best["savings"],
            "with_alternatives": with_alternatives,
            "alternatives_savings": (everything["savings"] or Decimal(0)) - (best["savings"] or Decimal(0)),
        },
        "awaiting": {
            "count": awaiting.count(),
            "savings": recommendations_best_per_resource(awaiting).aggregate(savings=Sum("monthly_savings"))["savings"],
        },
        "by_team": [
            {
                "team": row["team__name"],
                "count": recommendation_counts.get(row["team__name"], 0),
                "resources": row["resources"],
                "savings": row["savings"],
            }
            for row in by_team
        ],
        "currencies": sorted(set(open_recommendations.values_list("currency", flat=True))),
    }


@dataclass(frozen=True)
class Alternatives:
    """A recommendation's place among the open recommendations for its resource: `others` (the other open ones,
    best first) and `counted` (it is open and the one the totals count for the resource)."""

    others: list[Recommendation] = field(default_factory=list)
    counted: bool = False


def _best_first(recommendation: Recommendation) -> tuple:
    savings = recommendation.monthly_savings
    return (savings is None, -(savings or 0), recommendation.pk)  # as BEST_FIRST orders them


def recommendation_alternatives(*, recommendations: Iterable[Recommendation]) -> dict[int, Alternatives]:
    """For each of `recommendations` (by pk), the other open recommendations for the same resource, whatever
    filters chose `recommendations`, and whether the totals count it (recommendations_best_per_resource's rule)."""
    recommendations = list(recommendations)
    arns = {recommendation.resource_arn for recommendation in recommendations}
    live: dict[tuple, list[Recommendation]] = {}
    for recommendation in Recommendation.objects.filter(
        state=Recommendation.State.OPEN, resource_arn__in=arns
    ).order_by(*BEST_FIRST):
        live.setdefault(tuple(getattr(recommendation, name) for name in RESOURCE_KEY), []).append(recommendation)
    found = {}
    for recommendation in recommendations:
        group = sorted(live.get(tuple(getattr(recommendation, name) for name in RESOURCE_KEY), []), key=_best_first)
        found[recommendation.pk] = Alternatives(
            others=[other for other in group if other.pk != recommendation.pk],
            counted=bool(group) and group[0].pk == recommendation.pk,
        )
    return found


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
