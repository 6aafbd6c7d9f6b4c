"""DRF permission classes over finops.roles (and, for channels, the reach finops.services.channels decides)."""

from __future__ import annotations

from rest_framework.permissions import SAFE_METHODS, BasePermission

from finops.roles import user_can_view, user_is_operator
from finops.services.channels import channel_can_edit_any


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


class CanViewCosts(BasePermission):
    """Anyone who can view, for every method: for commands that record knowledge about spend (anomaly feedback)
    rather than act on resources."""

    message = "You need the viewer, operator or admin role, or to approve for a team."

    def has_permission(self, request, view) -> bool:
        return user_can_view(request.user)


class IsChannelEditorOrReadOnly(BasePermission):
    """Reads for anyone holding a role; writes for operators, admins and team approvers, whose reach (which
    channels) finops.services.channels decides per channel."""

    message = "Changing channels needs the operator or admin role, or to approve for the channel's team."

    def has_permission(self, request, view) -> bool:
        if request.method in SAFE_METHODS:
            return user_can_view(request.user)
        return channel_can_edit_any(user=request.user)
