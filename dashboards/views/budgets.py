"""The Budgets page: each budget's current period, actual against forecast, with its burn-down."""

from __future__ import annotations

import pandas as pd
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect
from django.utils import timezone
from django.views.generic import TemplateView

from dashboards.access import ViewerRequiredMixin
from dashboards.charts.base import to_html
from dashboards.charts.budgets import budget_burn_down
from dashboards.forms.budgets import BudgetForm
from finops.roles import user_is_operator
from finops.selectors.budgets import budget_status, budgets_listed
from finops.services.budgets import budget_create


def _frame(series: pd.Series) -> pd.DataFrame:
    return pd.DataFrame({"day": list(series.index), "cost": list(series.values)}, columns=["day", "cost"])


class BudgetsView(ViewerRequiredMixin, TemplateView):
    """Where each budget stands. Operators add budgets here; editing and deleting is /api/v1/budgets."""

    template_name = "dashboards/budgets.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        today = timezone.now().date()
        rows = []
        for budget in budgets_listed():
            status = budget_status(budget=budget, today=today)
            chart = budget_burn_down(
                _frame(status.daily), _frame(status.forecast_daily), amount=budget.amount,
                period_start=status.period_start, period_end=status.period_end,
            )  # fmt: skip
            rows.append({"budget": budget, "status": status, "chart": to_html(chart)})
        context.update(rows=rows, today=today, can_edit=user_is_operator(self.request.user))
        context.setdefault("form", BudgetForm())
        return context

    def post(self, request, *args, **kwargs):
        if not user_is_operator(request.user):
            raise PermissionDenied("Adding budgets needs the operator or admin role.")
        form = BudgetForm(request.POST)
        if form.is_valid():
            data = dict(form.cleaned_data)
            data["tag_key"], data["tag_value"] = data.pop("tag")
            try:
                budget = budget_create(**data, user=request.user)
            except ValidationError as error:
                for field, problems in error.message_dict.items():
                    form.add_error(field if field in form.fields else None, problems)
            else:
                messages.success(request, f"Added budget {budget.name}.")
                return redirect(f"{request.path}#budget-{budget.pk}")
        return self.render_to_response(self.get_context_data(form=form))
