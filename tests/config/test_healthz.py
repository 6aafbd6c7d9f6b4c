from __future__ import annotations

import pytest


@pytest.mark.django_db
def test_it_reports_ok_when_database_and_broker_answer(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "broker": "ok"}}


@pytest.mark.django_db
def test_it_names_the_broker_when_the_broker_is_down(client, settings):
    # Port 9 (discard) on loopback has no listener: the broker cannot be reached.
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:9/0"
    settings.COSTPLANE_HEALTH_TIMEOUT = 1
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "down"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["broker"] != "ok"
