from __future__ import annotations

from django.conf import settings
from django.db import models


class AllocationRulesVersion(models.Model):
    """One published version of the allocation rules (tag rules and shared-cost rules) as a JSON document.

    Versions are never edited: a change publishes the next version, and this row is its audit entry
    (who, when, the document before and after). Reports name the version they applied.
    """

    number = models.PositiveIntegerField(unique=True)
    document = models.JSONField(default=dict)
    previous_document = models.JSONField(default=dict, blank=True)
    comment = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-number"]

    def __str__(self) -> str:
        return f"allocation rules v{self.number}"
