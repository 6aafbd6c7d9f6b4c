"""manage.py add_policy: an operator's policy from the command line, in dry run, with the service's validation."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from capacity.models import Policy
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_it_adds_a_policy_in_dry_run_and_updates_it_by_name(capsys):
    UserFactory(username="admin", roles=["admin"])
    call_command(
        "add_policy", "Dev GPUs off-hours", "--action", "stop_start", "--kind", "ec2_instance",
        "--kind", "sagemaker_notebook", "--tag", "environment=dev", "--schedule",
        "off=(M-F,19);on=(M-F,7);tz=Europe/Berlin",
    )  # fmt: skip
    policy = Policy.objects.get()
    assert (policy.dry_run, policy.enabled, policy.resource_kinds, policy.tag_filters) == (
        True, True, ["ec2_instance", "sagemaker_notebook"], {"environment": ["dev"]},
    )  # fmt: skip
    assert "Added policy Dev GPUs off-hours (dry run)." in capsys.readouterr().out
    call_command("add_policy", "Dev GPUs off-hours", "--action", "stop_start", "--kind", "ec2_instance",
                 "--grace-minutes", "45")  # fmt: skip
    policy.refresh_from_db()
    assert (Policy.objects.count(), policy.grace_minutes, policy.resource_kinds) == (1, 45, ["ec2_instance"])


def test_it_says_what_is_wrong_and_saves_nothing():
    UserFactory(username="admin", roles=["admin"])
    UserFactory(username="vera", roles=["viewer"])
    with pytest.raises(CommandError, match="schedule"):
        call_command(
            "add_policy", "Bad", "--action", "stop_start", "--kind", "ec2_instance", "--schedule", "off=(X,19)"
        )
    with pytest.raises(CommandError, match="KEY=VALUE"):
        call_command("add_policy", "Bad", "--action", "stop_start", "--kind", "ec2_instance", "--tag", "environment")
    with pytest.raises(CommandError, match="operators"):
        call_command("add_policy", "Bad", "--action", "stop_start", "--kind", "ec2_instance", "--user", "vera")
    with pytest.raises(CommandError, match="No user"):
        call_command("add_policy", "Bad", "--action", "stop_start", "--kind", "ec2_instance", "--user", "nobody")
    assert not Policy.objects.exists()
