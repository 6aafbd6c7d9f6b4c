"""The Accounts page: cloud accounts with their data freshness and the latest billing imports (with their warnings
and errors); operators add accounts here."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect
from django.views.generic import TemplateView

from dashboards.access import ViewerRequiredMixin
from dashboards.forms.accounts import CloudAccountForm
from finops.roles import user_is_operator
from finops.selectors.ingestion import account_freshness_list, billing_import_run_list
from finops.services.accounts import cloud_account_create


class AccountsView(ViewerRequiredMixin, TemplateView):
    """Cloud accounts with their data freshness; operators add accounts here."""

    template_name = "dashboards/accounts.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["freshness"] = account_freshness_list()
        context["billing_imports"] = billing_import_run_list()
        context["can_edit"] = user_is_operator(self.request.user)
        context.setdefault("form", CloudAccountForm())
        return context

    def post(self, request, *args, **kwargs):
        if not user_is_operator(request.user):
            raise PermissionDenied("Adding accounts needs the operator or admin role.")
        form = CloudAccountForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                account = cloud_account_create(**data, exports_enabled=bool(data["export_s3_uri"]))
            except ValidationError as error:
                for field, problems in error.message_dict.items():
                    form.add_error(field if field in form.fields else None, problems)
            else:
                messages.success(request, f"Added account {account}.")
                return redirect("dashboards:accounts")
        return self.render_to_response(self.get_context_data(form=form))
