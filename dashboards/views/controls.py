"""What the report pages (Allocation, Unit economics) share about their GET controls: the messages to show when the
controls, or the report they ask for, are not valid."""

from __future__ import annotations

from django import forms


class ControlsError(Exception):
    def __init__(self, messages_: list[str]):
        super().__init__(messages_)
        self.messages = messages_


def form_errors(form: forms.Form) -> list[str]:
    return [] if form.is_valid() else [str(error) for errors in form.errors.values() for error in errors]
