"""Run every alert source now (what the 15-minute beat task does) and print what opened and resolved."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from capacity.services.alerts import AlertSourcesFailed, alerts_evaluate


class Command(BaseCommand):
    help = "Evaluate every alert source now: open, refresh and resolve alerts and notify their channels."

    def handle(self, *args, **options) -> None:
        try:
            results = alerts_evaluate()
        except AlertSourcesFailed as error:
            raise CommandError(str(error)) from None
        for kind, changes in sorted(results.items()):
            opened, resolved = changes["opened"], changes["resolved"]
            if opened or resolved:
                self.stdout.write(f"{kind}: opened {opened or '-'}, resolved {resolved or '-'}")
        self.stdout.write(self.style.SUCCESS("Alerts evaluated."))
