from __future__ import annotations

import pytest
from django.contrib import admin
from django.urls import reverse

from tests.factories import UserFactory


@pytest.mark.django_db
def test_it_opens_every_admin_list_page(client):
    superuser = UserFactory(username="root-admin", is_staff=True, is_superuser=True)
    client.force_login(superuser)
    opened = []
    for model in admin.site._registry:
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        response = client.get(url)
        assert response.status_code == 200, url
        opened.append(model._meta.label)
    assert {"finops.CloudAccount", "capacity.Recommendation", "capacity.Action", "capacity.TeamSettings"} <= set(opened)
