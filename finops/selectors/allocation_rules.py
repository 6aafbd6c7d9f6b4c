from __future__ import annotations

from finops.allocation.rules import Rules, rules_parse
from finops.models import AllocationRulesVersion


def allocation_rules_current() -> tuple[int, Rules]:
    """The newest published rules and their version number; version 0 means no rules (tags as stored)."""
    version = AllocationRulesVersion.objects.order_by("-number").first()
    if version is None:
        return 0, Rules()
    return version.number, rules_parse(version.document)
