"""Rebuild the daily and tag cost rollups from the stored billing lines, with COSTPLANE_ALLOCATION_TAG_KEYS."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand

from finops.services.rollups import rollups_rebuild_all


class Command(BaseCommand):
    help = (
        "Rebuild the daily and tag cost rollups that reports read, with the tag keys of COSTPLANE_ALLOCATION_TAG_KEYS: "
        "needed after changing that setting (until then, reports read other tag keys from the raw lines)."
    )

    def handle(self, *args, **options):
        rows = rollups_rebuild_all()
        keys = ", ".join(settings.COSTPLANE_ALLOCATION_TAG_KEYS) or "none"
        self.stdout.write(f"rebuilt the daily and tag cost rollups: {rows} daily rows, tag keys {keys}")
