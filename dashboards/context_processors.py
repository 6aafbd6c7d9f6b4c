from __future__ import annotations

from django.urls import reverse

from dashboards.navigation import NAVIGATION


def navigation(request) -> dict:
    current = request.resolver_match.view_name if request.resolver_match else ""
    return {
        "navigation": [{"url": reverse(name), "label": label, "active": name == current} for name, label in NAVIGATION]
    }
