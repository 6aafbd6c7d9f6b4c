"""API-wide conventions (ARCHITECTURE.md, "Reports API"): errors are `{"errors": {PARAM: [message, ...]}}`, and a
query parameter an endpoint does not read is one of them.

Every API view mixes in `StrictQueryParams` (tests/config/test_api.py checks that each /api/v1/ view does). What a
view reads is worked out from what it is made of, so a new filter, ordering or pagination needs no second list:
- `format` (DRF's URL format override) everywhere;
- `accepted_query_params`: what the view reads itself (the report grammar's parameters, a command's options);
- on a list (a viewset's `list` action, a plain generic view's GET): its filter backends' parameters (the
  FilterSet's filters, a range filter's `_min`/`_max` or `_after`/`_before` names included; OrderingFilter's
  `ordering`; SearchFilter's `search`) and its pagination's (`limit` and `offset` here; `page` and
  `page_size` with page-number pagination). These are what the OpenAPI schema documents for the list; a detail
  request documents none, and takes none.
"""

from __future__ import annotations

from collections.abc import Iterable

from django import forms
from django_filters import rest_framework as django_filters
from django_filters.widgets import SuffixedMultiWidget
from rest_framework import routers
from rest_framework.exceptions import ValidationError
from rest_framework.generics import GenericAPIView
from rest_framework.settings import api_settings
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


def _filter_names(name: str, widget: forms.Widget) -> list[str]:
    """The query names a filter's form widget reads: one, or one per part of a multi-part widget."""
    if isinstance(widget, SuffixedMultiWidget):
        return [widget.suffixed(name, suffix) for suffix in widget.suffixes]
    if isinstance(widget, forms.MultiWidget):
        return [name + suffix for suffix in widget.widgets_names]
    return [name]


def _filter_backend_params(backend, view: GenericAPIView) -> set[str]:
    if isinstance(backend, django_filters.DjangoFilterBackend):
        filterset_class = backend.get_filterset_class(view, view.get_queryset())
        if filterset_class is None:
            return set()
        return {
            query_name
            for name, declared in filterset_class.base_filters.items()
            for query_name in _filter_names(name, declared.field.widget)
        }
    for attribute in ("ordering_param", "search_param"):  # rest_framework.filters' OrderingFilter, SearchFilter
        if hasattr(backend, attribute):
            return {getattr(backend, attribute)}
    return {parameter["name"] for parameter in backend.get_schema_operation_parameters(view)}


def view_query_params(view) -> set[str]:
    """Every query parameter `view`, as set up for the current request, reads."""
    names = {api_settings.URL_FORMAT_OVERRIDE} - {None}
    names.update(getattr(view, "accepted_query_params", ()))
    lists = getattr(view, "action", None) == "list" or (
        not hasattr(view, "action") and view.request.method in ("GET", "HEAD")
    )
    if isinstance(view, GenericAPIView) and lists:
        for backend_class in view.filter_backends:
            names |= _filter_backend_params(backend_class(), view)
        if view.paginator is not None:
            names.update(parameter["name"] for parameter in view.paginator.get_schema_operation_parameters(view))
    return names


def unknown_query_params_errors(given: Iterable[str], known: set[str]) -> dict[str, list[str]]:
    """{name: [message]} for each given name not in `known`: the body of the 400 (empty when all are known)."""
    takes = ", ".join(sorted(known))
    return {
        name: [f"Unknown parameter '{name}': this endpoint takes {takes}."]
        for name in dict.fromkeys(given)
        if name not in known
    }


class StrictQueryParams:
    """Answer 400 naming each query parameter the view does not read (see the module docstring), after
    authentication and permissions (so a stranger still gets 401/403, not a list of parameters).

    A view that reads parameters itself lists them in `accepted_query_params`. Mix in before DRF's classes.
    """

    accepted_query_params: Iterable[str] = ()

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        errors = unknown_query_params_errors(request.query_params.keys(), view_query_params(self))
        if errors:
            raise ValidationError(errors)


class APIRootView(StrictQueryParams, routers.APIRootView):
    """The /api/v1/ index, under the same rule as every endpoint."""


class Router(routers.DefaultRouter):
    """DRF's DefaultRouter whose index view checks query parameters too."""

    APIRootView = APIRootView
