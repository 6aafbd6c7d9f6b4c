"""Team reads for the pages' team pickers and lookups."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import QuerySet

from finops.models import Team


def teams_listed(*, team_ids: Iterable[int] | None = None) -> QuerySet[Team]:
    """Teams by name; with `team_ids`, only those (a team approver's choices; an empty list gives none)."""
    teams = Team.objects.order_by("name")
    return teams if team_ids is None else teams.filter(pk__in=team_ids)


def team_get(*, team_id: str) -> Team | None:
    """The team with this primary key as posted (text), or None when there is none or the text is no number."""
    return Team.objects.filter(pk=team_id).first() if str(team_id).isdigit() else None
