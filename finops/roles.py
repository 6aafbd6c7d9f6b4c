"""Who may do what (ARCHITECTURE.md, "Teams and roles").

Roles are Django groups (viewer, operator, admin) plus per-team approver membership. Superusers
count as admins. Every reader of data must hold at least one role: a signed-in user with none
sees nothing.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

VIEWER = "viewer"
OPERATOR = "operator"
ADMIN = "admin"
ROLE_GROUPS = (VIEWER, OPERATOR, ADMIN)

User = AbstractBaseUser | AnonymousUser


def _group_names(user: User) -> set[str]:
    if not user.is_authenticated:
        return set()
    cached = getattr(user, "_costplane_groups", None)
    if cached is None:
        cached = set(user.groups.values_list("name", flat=True))
        user._costplane_groups = cached
    return cached


def user_is_admin(user: User) -> bool:
    return bool(user.is_authenticated and (user.is_superuser or ADMIN in _group_names(user)))


def user_is_operator(user: User) -> bool:
    return user_is_admin(user) or OPERATOR in _group_names(user)


def user_approver_team_ids(user: User) -> set[int]:
    if not user.is_authenticated:
        return set()
    from finops.models import TeamMembership

    return set(
        TeamMembership.objects.filter(user=user, role=TeamMembership.Role.APPROVER).values_list("team_id", flat=True)
    )


def user_can_view(user: User) -> bool:
    if not user.is_authenticated:
        return False
    return bool(user_is_operator(user) or VIEWER in _group_names(user) or user_approver_team_ids(user))


def user_can_approve_for_team(user: User, team_id: int | None) -> bool:
    """An admin may approve anything; anyone else only as an approver of the owning team."""
    if user_is_admin(user):
        return True
    return team_id is not None and team_id in user_approver_team_ids(user)
