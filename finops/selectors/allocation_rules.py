from __future__ import annotations

from django.db.models import QuerySet

from finops.allocation.rules import Rules, rules_parse
from finops.models import AllocationRulesVersion


def allocation_rules_current() -> tuple[int, Rules]:
    """The newest published rules and their version number; version 0 means no rules (tags as stored)."""
    version = AllocationRulesVersion.objects.order_by("-number").first()
    if version is None:
        return 0, Rules()
    return version.number, rules_parse(version.document)


def allocation_rules_history() -> QuerySet[AllocationRulesVersion]:
    """Every published rules version with its author, in the model's order (newest first): the page's history."""
    return AllocationRulesVersion.objects.select_related("created_by")


def allocation_rules_of_version(number: int) -> Rules:
    """The rules of a published version (0: no rules, tags as stored): a final billing period's allocations."""
    if number == 0:
        return Rules()
    return rules_parse(AllocationRulesVersion.objects.get(number=number).document)
