"""API-wide conventions: errors are `{"errors": {PARAM: [message, ...]}}` (ARCHITECTURE.md)."""

from __future__ import annotations

from rest_framework.views import exception_handler as drf_exception_handler


def exception_handler(exc, context):
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    data = response.data
    if isinstance(data, dict) and "errors" in data:
        return response
    if isinstance(data, dict) and set(data) == {"detail"}:
        response.data = {"errors": {"detail": [str(data["detail"])]}}
    elif isinstance(data, dict):
        response.data = {"errors": {key: value if isinstance(value, list) else [value] for key, value in data.items()}}
    elif isinstance(data, list):
        response.data = {"errors": {"non_field_errors": data}}
    return response
