from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models

from capacity.maintenance import MaintenanceWindow, parse_window


def maintenance_window_validator(value: str) -> None:
    if value:
        try:
            parse_window(value)
        except ValueError as error:
            raise ValidationError(str(error)) from None


class TeamSettings(models.Model):
    """A team's capacity settings: when actions may change its resources.

    `maintenance_window` uses capacity/maintenance.py's grammar, e.g. `Sun 02:00-04:00 Europe/Berlin`.
    Blank: the team has no window, and its approved actions stay planned (nothing runs outside a window).
    """

    team = models.OneToOneField("finops.Team", on_delete=models.CASCADE, related_name="capacity_settings")
    maintenance_window = models.CharField(
        max_length=200,
        blank=True,
        validators=[maintenance_window_validator],
        help_text="Days HH:MM-HH:MM IANA zone, e.g. 'Sun 02:00-04:00 Europe/Berlin' or 'Mon-Fri 22:00-02:00 UTC'.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "team settings"
        ordering = ["team__name"]

    def __str__(self) -> str:
        return f"{self.team}: {self.maintenance_window or 'no maintenance window'}"

    @property
    def window(self) -> MaintenanceWindow | None:
        return parse_window(self.maintenance_window) if self.maintenance_window else None
