from __future__ import annotations

import os

from django.core.management.base import BaseCommand

from finops.services.core import admin_user_ensure


class Command(BaseCommand):
    help = "Create the admin user if missing (password from COSTPLANE_ADMIN_PASSWORD, else generated and printed once)."

    def handle(self, *args, **options) -> None:
        username = os.environ.get("COSTPLANE_ADMIN_USER", "admin")
        user, generated = admin_user_ensure(
            username=username,
            email=os.environ.get("COSTPLANE_ADMIN_EMAIL", "admin@localhost"),
            password=os.environ.get("COSTPLANE_ADMIN_PASSWORD") or None,
        )
        if generated:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Created admin user '{username}' with password: {generated}\n"
                    "It is shown only this once; set COSTPLANE_ADMIN_PASSWORD to choose your own."
                )
            )
        else:
            self.stdout.write(f"Admin user '{username}' is ready.")
