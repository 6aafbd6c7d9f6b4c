"""Publishing allocation rules: validate, then add the next version (the audit entry) atomically."""

from __future__ import annotations

from django.db import transaction

from finops.allocation.rules import rules_parse
from finops.models import AllocationRulesVersion


@transaction.atomic
def allocation_rules_publish(*, document: dict, user, comment: str = "") -> AllocationRulesVersion:
    """Publish `document` as the next rules version. Raises finops.allocation.rules.RulesError when invalid."""
    rules_parse(document)
    # Lock the newest version so two publishers cannot take the same number.
    current = AllocationRulesVersion.objects.select_for_update().order_by("-number").first()
    return AllocationRulesVersion.objects.create(
        number=(current.number + 1) if current else 1,
        document=document,
        previous_document=current.document if current else {},
        comment=comment,
        created_by=user if getattr(user, "is_authenticated", False) else None,
    )
