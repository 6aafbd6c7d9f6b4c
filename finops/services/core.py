"""Writes for finops. Keyword-only, typed, atomic."""

from __future__ import annotations

import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from finops.models import WorkerHeartbeat
from finops.roles import ADMIN


def worker_heartbeat_record(*, hostname: str) -> WorkerHeartbeat:
    heartbeat, _ = WorkerHeartbeat.objects.update_or_create(hostname=hostname, defaults={"seen_at": timezone.now()})
    return heartbeat


@transaction.atomic
def admin_user_ensure(*, username: str, email: str, password: str | None) -> tuple[object, str | None]:
    """Create the first admin if missing. Returns the user and the password when one was generated now."""
    user_model = get_user_model()
    user = user_model.objects.filter(username=username).first()
    generated = None
    if user is None:
        if not password:
            password = generated = secrets.token_urlsafe(12)
        user = user_model.objects.create_superuser(username=username, email=email, password=password)
    elif password and not user.check_password(password):
        user.set_password(password)
        user.save(update_fields=["password"])
    user.groups.add(Group.objects.get(name=ADMIN))
    return user, generated
