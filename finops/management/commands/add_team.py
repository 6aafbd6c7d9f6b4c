from __future__ import annotations

from django.core.management.base import BaseCommand
from django.utils.text import slugify

from finops.models import Team


class Command(BaseCommand):
    help = "Add a team (or update its tag values): it owns the resources whose team tag has one of those values."

    def add_arguments(self, parser) -> None:
        parser.add_argument("name")
        parser.add_argument("--tag-value", action="append", dest="tag_values", default=[], help="Repeat for each value")

    def handle(self, *args, name: str, tag_values: list[str], **options) -> None:
        team, created = Team.objects.update_or_create(
            slug=slugify(name), defaults={"name": name, "tag_values": tag_values or [slugify(name)]}
        )
        verb = "Added" if created else "Updated"
        self.stdout.write(f"{verb} team {team.name} (tag values: {', '.join(team.tag_values)}).")
