"""What the report pages (Allocation, Unit economics) share about their GET controls: the messages to show when the
controls are not valid. (When the report they ask for cannot be answered, finops.reports.ReportError.messages.)"""

from __future__ import annotations

from django import forms


def form_errors(form: forms.Form) -> list[str]:
    return [] if form.is_valid() else [str(error) for errors in form.errors.values() for error in errors]
