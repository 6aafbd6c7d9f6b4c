"""/metrics: Prometheus text format (version 0.0.4), read from the database at each scrape.

Access: the client address must be in COSTPLANE_METRICS_ALLOW (addresses or CIDR networks; default
loopback only) and, when COSTPLANE_METRICS_TOKEN is set, the request must carry
`Authorization: Bearer <token>`. Anything else gets 403. The address is the connection's (REMOTE_ADDR):
behind a proxy, allow the proxy's address and rely on the token.
"""

from __future__ import annotations

import hmac
import ipaddress
from decimal import Decimal

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.views.decorators.http import require_GET

from capacity.selectors.monitoring import MetricFamily, metric_families

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: Decimal | int | float) -> str:
    if isinstance(value, Decimal):
        value = float(value)
    return repr(value) if isinstance(value, float) else str(value)


def metrics_text(families: list[MetricFamily]) -> str:
    lines: list[str] = []
    for family in families:
        lines.append(f"# HELP {family.name} {family.help}")
        lines.append(f"# TYPE {family.name} {family.type}")
        for labels, value in family.samples:
            rendered = ",".join(f'{name}="{_escape(str(text))}"' for name, text in labels.items())
            lines.append(
                f"{family.name}{{{rendered}}} {_number(value)}" if rendered else f"{family.name} {_number(value)}"
            )
    return "\n".join(lines) + "\n"


def _client_allowed(address: str) -> bool:
    try:
        client = ipaddress.ip_address(address)
    except ValueError:
        return False
    # Entries were checked when the settings loaded.
    return any(client in ipaddress.ip_network(allowed, strict=False) for allowed in settings.COSTPLANE_METRICS_ALLOW)


def _token_ok(request: HttpRequest) -> bool:
    token = settings.COSTPLANE_METRICS_TOKEN
    if not token:
        return True
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    if not _client_allowed(request.META.get("REMOTE_ADDR", "")):
        return HttpResponseForbidden("This address may not read /metrics (COSTPLANE_METRICS_ALLOW).\n")
    if not _token_ok(request):
        return HttpResponseForbidden("/metrics needs Authorization: Bearer <COSTPLANE_METRICS_TOKEN>.\n")
    return HttpResponse(metrics_text(metric_families()), content_type=CONTENT_TYPE)
