"""DRF permission classes over finops.roles."""

from __future__ import annotations

from rest_framework.permissions import SAFE_METHODS, BasePermission

from finops.roles import user_can_view, user_is_operator


class IsViewer(BasePermission):
    """Reads for anyone holding a role; writes only where a view grants them with a stricter class."""

    message = "You need the viewer, operator or admin role, or to approve for a team."

    def has_permission(self, request, view) -> bool:
        return request.method in SAFE_METHODS and user_can_view(request.user)


class IsOperatorOrReadOnly(BasePermission):
    message = "Changing this needs the operator or admin role."

    def has_permission(self, request, view) -> bool:
        if request.method in SAFE_METHODS:
            return user_can_view(request.user)
        return user_is_operator(request.user)
