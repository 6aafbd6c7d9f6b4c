from __future__ import annotations

import re

import pytest
from django.core.management import call_command
from rest_framework.authtoken.models import Token

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
