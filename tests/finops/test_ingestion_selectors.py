from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from capacity.selectors.monitoring import ingestion_lag
from finops.models import CloudAccount, IngestionRun
from finops.selectors.ingestion import account_freshness_list, account_last_success_list
from finops.services.alerts import stale_ingestion_alert_specs

NOW = datetime(2025, 3, 12, 9, 0, tzinfo=UTC)


def run(account: CloudAccount, status: str, hours_ago: int) -> IngestionRun:
    finished_at = NOW - timedelta(hours=hours_ago)
    source = IngestionRun.Source.COST_EXPLORER
    return IngestionRun.objects.create(account=account, source=source, status=status, finished_at=finished_at)


@pytest.mark.django_db
def test_the_page_the_alert_and_the_metric_agree_on_each_accounts_last_successful_ingestion(settings):
    settings.COSTPLANE_ALERT_STALE_INGESTION_HOURS = 24
    fresh = CloudAccount.objects.create(account_id="111111111111")
    stale = CloudAccount.objects.create(account_id="222222222222")
    switched_off = CloudAccount.objects.create(account_id="333333333333", cost_explorer_enabled=False)
    CloudAccount.objects.filter(pk=stale.pk).update(created_at=NOW - timedelta(days=10))
    run(fresh, IngestionRun.Status.SUCCEEDED, hours_ago=30)
    run(fresh, IngestionRun.Status.SUCCEEDED, hours_ago=2)
    failed = run(fresh, IngestionRun.Status.FAILED, hours_ago=1)  # newer, but not a success
    run(stale, IngestionRun.Status.SUCCEEDED, hours_ago=48)
    run(switched_off, IngestionRun.Status.SUCCEEDED, hours_ago=5)

    expected = {
        "111111111111": NOW - timedelta(hours=2),
        "222222222222": NOW - timedelta(hours=48),
        "333333333333": NOW - timedelta(hours=5),
    }
    freshness = {row.account.account_id: row for row in account_freshness_list()}
    assert {account_id: row.last_success_at for account_id, row in freshness.items()} == expected
    assert freshness["111111111111"].last_run == failed
    enabled = [(account.account_id, account.last_success) for account in account_last_success_list(enabled_only=True)]
    assert enabled == [(account_id, expected[account_id]) for account_id in ("111111111111", "222222222222")]

    [alert] = stale_ingestion_alert_specs(now=NOW)
    assert alert.key == "account:222222222222"
    assert alert.details["last_success"] == expected["222222222222"].isoformat()
    lag = {labels["account"]: seconds for labels, seconds in ingestion_lag(now=NOW).samples}
    assert lag == {"111111111111": 2 * 3600, "222222222222": 48 * 3600}
