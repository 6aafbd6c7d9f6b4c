from __future__ import annotations

import csv
import io
import re

import django_filters
import pytest
from django.core.management import call_command
from django.urls import URLResolver, get_resolver
from drf_spectacular.generators import SchemaGenerator
from rest_framework import viewsets
from rest_framework.authtoken.models import Token
from rest_framework.test import APIRequestFactory, force_authenticate

from config.api import StrictQueryParams
from finops.api.anomalies import CostAnomalySerializer
from finops.models import CostAnomaly
from tests.factories import TeamFactory


@pytest.mark.django_db
def test_it_authenticates_with_a_token_from_drf_create_token(api_client, viewer):
    call_command("drf_create_token", viewer.username, verbosity=0)
    token = Token.objects.get(user=viewer)
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    response = api_client.get("/api/v1/")
    assert response.status_code == 200
    assert "teams" in response.json()


@pytest.mark.django_db
def test_it_rejects_a_wrong_token(api_client):
    api_client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    response = api_client.get("/api/v1/teams/")
    assert response.status_code == 401
    assert response.json() == {"errors": {"detail": ["Invalid token."]}}


@pytest.mark.django_db
def test_it_pages_object_lists_in_name_order(viewer_api):
    for number in range(7):
        TeamFactory(name=f"Team {number:02d}", slug=f"team-{number:02d}")
    first = viewer_api.get("/api/v1/teams/", {"limit": 3}).json()
    assert first["count"] == 7
    assert [team["name"] for team in first["results"]] == ["Team 00", "Team 01", "Team 02"]
    assert "offset=3" in first["next"]


@pytest.mark.django_db
def test_it_caps_the_page_size(viewer_api):
    from config.pagination import CappedLimitOffsetPagination

    for number in range(5):
        TeamFactory(name=f"T{number}", slug=f"t{number}")
    CappedLimitOffsetPagination.max_limit, saved = 2, CappedLimitOffsetPagination.max_limit
    try:
        body = viewer_api.get("/api/v1/teams/", {"limit": 1000}).json()
    finally:
        CappedLimitOffsetPagination.max_limit = saved
    assert len(body["results"]) == 2
    assert body["count"] == 5


@pytest.mark.django_db
def test_it_serves_the_schema_and_docs_with_local_assets(client, viewer):
    client.force_login(viewer)
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    assert b"/api/v1/teams/" in schema.content
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    html = docs.content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert any("swagger-ui" in asset for asset in assets)
    assert all(not asset.startswith(("http://", "https://", "//")) for asset in assets), assets
    for asset in assets:
        if asset.startswith("/static/"):
            assert client.get(asset).status_code == 200, asset


def api_views(patterns, prefix=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from api_views(pattern.url_patterns, prefix + str(pattern.pattern))
        else:
            yield prefix + str(pattern.pattern), pattern.callback


def test_every_api_view_refuses_query_parameters_it_does_not_read():
    views = {
        route: callback.cls
        for route, callback in api_views(get_resolver().url_patterns)
        if route.startswith("api/v1/") and hasattr(callback, "cls")
    }
    assert len(views) > 30
    lax = sorted(route for route, view_class in views.items() if not issubclass(view_class, StrictQueryParams))
    assert lax == [], "these API views would silently ignore a mistyped parameter"


def schema_operations(method: str):
    schema = SchemaGenerator().get_schema(request=None, public=True)
    for path, operations in schema["paths"].items():
        if path.startswith("/api/v1/") and method in operations:
            documented = {param["name"] for param in operations[method].get("parameters", []) if param["in"] == "query"}
            yield re.sub(r"\{[^}]+\}", "1", path), documented


@pytest.mark.django_db
def test_every_api_read_takes_exactly_the_query_parameters_its_schema_documents(api_client, admin_user):
    api_client.force_authenticate(admin_user)
    checked = 0
    for path, documented in schema_operations("get"):
        documented_only = api_client.get(path, dict.fromkeys(documented - {"format"}, "1"))
        errors = documented_only.json().get("errors", {}) if documented_only.status_code == 400 else {}
        assert not any("Unknown parameter" in str(messages) for messages in errors.values()), (path, errors)
        refused = api_client.get(path, {"not_a_parameter": "1"})
        assert refused.status_code == 400, path
        (message,) = refused.json()["errors"]["not_a_parameter"]
        takes = set(message.partition("this endpoint takes ")[2].rstrip(".").split(", "))
        assert takes - {"format"} == documented - {"format"}, path
        checked += 1
    assert checked > 20


@pytest.mark.django_db
def test_it_names_a_mistyped_report_parameter_instead_of_answering_thirty_days(viewer_api):
    for report in ("/api/v1/costs/", "/api/v1/allocations/", "/api/v1/unit-costs/"):
        response = viewer_api.get(report, {"windw": "7d", "aggregate": "service", "format": "json"})
        assert response.status_code == 400, report
        assert list(response.json()["errors"]) == ["windw"]
        assert "Unknown parameter 'windw'" in response.json()["errors"]["windw"][0]
        assert "window" in response.json()["errors"]["windw"][0]
    csv_error = viewer_api.get("/api/v1/costs/", {"window": "7d", "group": "service", "format": "csv"})
    assert csv_error.status_code == 400
    rows = list(csv.reader(io.StringIO(csv_error.content.decode())))
    assert rows[0] == ["parameter", "error"] and rows[1][0] == "group" and "Unknown parameter" in rows[1][1]


@pytest.mark.django_db
def test_it_answers_a_stranger_401_before_looking_at_the_parameters(api_client):
    response = api_client.get("/api/v1/costs/", {"windw": "7d"})
    assert response.status_code == 401


@pytest.mark.django_db
def test_it_takes_a_lists_filters_and_pages_but_not_on_one_object(viewer_api):
    team = TeamFactory(name="Vision", slug="vision")
    listed = viewer_api.get("/api/v1/teams/", {"name": "vis", "slug": "vision", "limit": 1, "offset": 0})
    assert listed.status_code == 200 and [row["slug"] for row in listed.json()["results"]] == ["vision"]
    mistyped = viewer_api.get("/api/v1/teams/", {"nmae": "vis"})
    assert mistyped.status_code == 400 and list(mistyped.json()["errors"]) == ["nmae"]
    assert viewer_api.get(f"/api/v1/teams/{team.pk}/").status_code == 200
    detail = viewer_api.get(f"/api/v1/teams/{team.pk}/", {"limit": 1})
    assert detail.status_code == 400 and list(detail.json()["errors"]) == ["limit"]
    index = viewer_api.get("/api/v1/", {"verbose": "1"})
    assert index.status_code == 400 and list(index.json()["errors"]) == ["verbose"]


@pytest.mark.django_db
def test_it_refuses_an_unknown_parameter_on_a_command_before_looking_for_the_object(api_client, admin_user):
    api_client.force_authenticate(admin_user)
    assert api_client.post("/api/v1/recommendations/999/approve/", {}, format="json").status_code == 404
    response = api_client.post("/api/v1/recommendations/999/approve/?dry=1", {}, format="json")
    assert response.status_code == 400 and list(response.json()["errors"]) == ["dry"]


class AnomalyRangeFilterSet(django_filters.FilterSet):
    impact = django_filters.RangeFilter()
    day = django_filters.DateFromToRangeFilter()

    class Meta:
        model = CostAnomaly
        fields = ["impact", "day", "source"]


class AnomalyRangeViewSet(StrictQueryParams, viewsets.ReadOnlyModelViewSet):
    queryset = CostAnomaly.objects.order_by("id")
    serializer_class = CostAnomalySerializer
    filterset_class = AnomalyRangeFilterSet


@pytest.mark.django_db
def test_it_knows_the_names_a_range_filter_reads(viewer):
    view = AnomalyRangeViewSet.as_view({"get": "list"})

    def get(params):
        request = APIRequestFactory().get("/anomalies/", params)
        force_authenticate(request, user=viewer)
        return view(request)

    taken = {"impact_min": "1", "impact_max": "9", "day_after": "2026-01-01", "day_before": "2026-02-01"}
    assert get({**taken, "source": "aws", "limit": "5"}).status_code == 200
    refused = get({"impact": "1", "day_from": "2026-01-01"})
    assert refused.status_code == 400 and set(refused.data["errors"]) == {"impact", "day_from"}
