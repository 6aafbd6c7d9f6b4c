from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from finops.roles import user_is_admin


@pytest.mark.django_db
def test_it_creates_the_admin_and_prints_a_generated_password_only_once(monkeypatch):
    monkeypatch.delenv("COSTPLANE_ADMIN_PASSWORD", raising=False)
    first, second = StringIO(), StringIO()
    call_command("costplane_bootstrap", stdout=first)
    call_command("costplane_bootstrap", stdout=second)
    password = first.getvalue().split("password: ")[1].split()[0]
    admin = get_user_model().objects.get(username="admin")
    assert admin.check_password(password)
    assert user_is_admin(admin)
    assert "password" not in second.getvalue()


@pytest.mark.django_db
def test_it_takes_the_admin_password_from_the_environment(monkeypatch):
    monkeypatch.setenv("COSTPLANE_ADMIN_PASSWORD", "a-long-chosen-password")
    out = StringIO()
    call_command("costplane_bootstrap", stdout=out)
    assert get_user_model().objects.get(username="admin").check_password("a-long-chosen-password")
    assert "a-long-chosen-password" not in out.getvalue()
