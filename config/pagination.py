from __future__ import annotations

from django.conf import settings
from rest_framework.pagination import LimitOffsetPagination


class CappedLimitOffsetPagination(LimitOffsetPagination):
    """limit/offset for every object list; a limit above the cap is cut down to it."""

    default_limit = 100
    max_limit = settings.API_PAGE_MAX_LIMIT
