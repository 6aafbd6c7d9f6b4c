from __future__ import annotations

import os

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from capacity.models import Policy, Resource
from capacity.services.policies import PolicyForbidden, PolicyInputError, policy_create, policy_update


def _tag_filters(pairs: list[str]) -> dict[str, list[str]]:
    filters: dict[str, list[str]] = {}
    for pair in pairs:
        key, separator, value = pair.partition("=")
        if not separator or not key.strip() or not value.strip():
            raise CommandError(f"--tag {pair!r}: give KEY=VALUE.")
        filters.setdefault(key.strip(), []).append(value.strip())
    return filters


class Command(BaseCommand):
    help = (
        "Add an idle-shutdown or off-hours policy (or update the one with that name), as an operator would in the "
        "UI. A new policy starts in dry run: it announces and records what it would do and changes nothing."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("name")
        parser.add_argument("--action", required=True, choices=Policy.Action.values)
        parser.add_argument("--kind", action="append", default=[], choices=Resource.Kind.values, help="Repeat")
        parser.add_argument(
            "--schedule", default="", help="e.g. 'off=(M-F,19);on=(M-F,7);tz=Europe/Berlin'; blank: the resource tag"
        )
        parser.add_argument("--tag", action="append", default=[], metavar="KEY=VALUE", help="Select by tag; repeat")
        parser.add_argument("--grace-minutes", type=int, default=None)
        parser.add_argument(
            "--user", default=os.environ.get("COSTPLANE_ADMIN_USER", "admin"), help="The operator it is recorded as"
        )

    def handle(self, *args, name: str, **options) -> None:
        user = get_user_model().objects.filter(username=options["user"]).first()
        if user is None:
            raise CommandError(f"No user {options['user']!r}: run costplane_bootstrap first, or pass --user.")
        data = {
            "name": name,
            "action": options["action"],
            "trigger": Policy.Trigger.SCHEDULE,
            "resource_kinds": options["kind"],
            "schedule": options["schedule"],
            "tag_filters": _tag_filters(options["tag"]),
        }
        if options["grace_minutes"] is not None:
            data["grace_minutes"] = options["grace_minutes"]
        existing = Policy.objects.filter(name=name).first()
        try:
            if existing is None:
                policy = policy_create(user=user, data=data)
            else:
                policy = policy_update(policy_id=existing.pk, user=user, data=data)
        except PolicyForbidden as error:
            raise CommandError(str(error)) from None
        except PolicyInputError as error:
            raise CommandError(f"{error.field}: {error}") from None
        mode = "dry run" if policy.dry_run else "live"
        self.stdout.write(f"{'Added' if existing is None else 'Updated'} policy {policy.name} ({mode}).")
