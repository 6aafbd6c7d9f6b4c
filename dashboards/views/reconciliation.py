"""The Reconciliation page: account-days where Cost Explorer, the export file and the stored rows disagree, and the
restatements of final billing periods."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from django.views.generic import TemplateView

from dashboards.access import ViewerRequiredMixin
from finops.selectors.billing_periods import billing_restatement_list
from finops.selectors.reconciliation import reconciliation_rows


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
        context["restatements"] = billing_restatement_list()
        return context
