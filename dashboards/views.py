from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect
from django.utils import timezone
from django.views.generic import TemplateView

from dashboards import charts
from dashboards.access import ViewerRequiredMixin
from dashboards.forms import CloudAccountForm
from finops.roles import user_is_operator
from finops.selectors.ingestion import account_freshness_list
from finops.selectors.overview import overview_summary
from finops.selectors.reconciliation import reconciliation_rows
from finops.services.accounts import cloud_account_create


class OverviewView(ViewerRequiredMixin, TemplateView):
    template_name = "dashboards/overview.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        summary = overview_summary(today=timezone.now().date())
        context["summary"] = summary
        context["freshness"] = account_freshness_list()
        if summary.has_data:
            context["daily_chart"] = charts.to_html(charts.daily_spend_by_service(summary.daily_by_service))
        return context


class AllocationView(ViewerRequiredMixin, TemplateView):
    template_name = "dashboards/allocation.html"


class UnitEconomicsView(ViewerRequiredMixin, TemplateView):
    template_name = "dashboards/unit_economics.html"


class CapacityView(ViewerRequiredMixin, TemplateView):
    template_name = "dashboards/capacity.html"


class RecommendationsView(ViewerRequiredMixin, TemplateView):
    template_name = "dashboards/recommendations.html"


class SchedulesView(ViewerRequiredMixin, TemplateView):
    template_name = "dashboards/schedules.html"


class AccountsView(ViewerRequiredMixin, TemplateView):
    """Cloud accounts with their data freshness; operators add accounts here."""

    template_name = "dashboards/accounts.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["freshness"] = account_freshness_list()
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


class ReconciliationView(ViewerRequiredMixin, TemplateView):
    """Account-days where Cost Explorer, the export file and the stored rows disagree."""

    template_name = "dashboards/reconciliation.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        today = timezone.now().date()
        try:
            days = max(1, min(int(self.request.GET.get("days", 90)), 800))
        except ValueError:
            days = 90
        rows = reconciliation_rows(start=today - timedelta(days=days), end=today)
        context.update(days=days, checked=len(rows), mismatches=[row for row in rows if row.mismatch])
        return context
