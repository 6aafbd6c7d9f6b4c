"""Page access: the login page for anonymous users, 403 for a signed-in user without a role."""

from __future__ import annotations

from django.contrib.auth.mixins import AccessMixin

from finops.roles import user_can_view


class ViewerRequiredMixin(AccessMixin):
    raise_exception = False

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        if not user_can_view(request.user):
            self.raise_exception = True
            return self.handle_no_permission()
        return super().dispatch(request, *args, **kwargs)
