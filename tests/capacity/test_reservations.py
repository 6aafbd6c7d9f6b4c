"""Capacity reservations collected from EC2 (the sandbox answers DescribeCapacityReservations) and read for the plan."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from botocore.exceptions import ClientError

from capacity.aws import RequestCount
from capacity.aws import ec2 as ec2_api
from capacity.models import CapacityReservation, CollectionRun, InstanceTypeInfo
from capacity.selectors.reservations import (
    Reserved,
    reservations_holding,
    reserved_capacity_by_quota,
    reserved_capacity_by_type,
)
from capacity.services.collection import capacity_collect
from capacity.services.reservations import reservations_refresh
from sandbox import aws as sandbox_aws
from sandbox import reservations as sandbox_reservations
from sandbox.errors import AwsError

from .conftest import ML_PROD, ML_RESEARCH, NOW, REGION, TODAY, client_factory

pytestmark = pytest.mark.django_db
P_QUOTA, G_QUOTA = "L-417A185B", "L-DB2E81BA"


@pytest.fixture(autouse=True)
def sandbox_today(monkeypatch):
    monkeypatch.setenv("COSTPLANE_SANDBOX_TODAY", TODAY.isoformat())
    monkeypatch.setenv("COSTPLANE_SANDBOX_SIZE", "small")


def _stored(account) -> dict[str, tuple]:
    return {
        row.reservation_id: (
            row.instance_type, row.reservation_type, row.state, row.total_instance_count, row.available_instance_count,
            row.start_date, row.end_date, row.end_date_type, row.arn, row.availability_zone, row.tags,
        )
        for row in CapacityReservation.objects.filter(account=account, region=REGION)
    }  # fmt: skip


def _answered(account_id: str) -> dict[str, tuple]:
    return {
        item["CapacityReservationId"]: (
            item["InstanceType"], item["ReservationType"], item["State"], item["TotalInstanceCount"],
            item["AvailableInstanceCount"], item["StartDate"], item.get("EndDate"), item["EndDateType"],
            item["CapacityReservationArn"], item["AvailabilityZone"],
            {tag["Key"]: tag["Value"] for tag in item["Tags"]},
        )
        for item in sandbox_reservations.capacity_reservations(account_id, REGION)
    }  # fmt: skip


def test_the_wrapper_follows_every_page(fleet):
    count = RequestCount()
    found = list(ec2_api.capacity_reservations(client_factory(ML_RESEARCH)("ec2"), count=count))
    assert len(found) == 3
    assert count.requests == 2, "the sandbox answers at most 2 a page"
    assert len({item["CapacityReservationId"] for item in found}) == 3


def test_it_stores_exactly_the_sandboxs_reservations_and_a_second_run_changes_nothing(fleet, accounts):
    research = accounts["ml-research"]
    run = reservations_refresh(account=research, region=REGION, client_factory=client_factory(ML_RESEARCH), now=NOW)
    assert run.status == CollectionRun.Status.SUCCEEDED
    assert run.kind == CollectionRun.Kind.RESERVATIONS
    assert run.counts == {
        "reservations": 3,
        "by_state": {"active": 1, "expired": 1, "scheduled": 1},
        "removed": 0,
        "shared": 0,
    }
    assert _stored(research) == _answered(ML_RESEARCH)
    assert set(InstanceTypeInfo.objects.values_list("instance_type", flat=True)) >= {"p5.48xlarge", "g5.12xlarge"}
    block = CapacityReservation.objects.get(account=research, reservation_type="capacity-block")
    assert (block.state, block.start_date, block.end_date) == (
        "scheduled",
        datetime(2025, 7, 16, 11, 30, tzinfo=UTC),
        datetime(2025, 7, 30, 11, 30, tzinfo=UTC),
    )
    ids = dict(CapacityReservation.objects.values_list("reservation_id", "pk"))

    again = reservations_refresh(
        account=research, region=REGION, client_factory=client_factory(ML_RESEARCH), now=NOW + timedelta(hours=1)
    )
    assert again.counts == run.counts
    assert _stored(research) == _answered(ML_RESEARCH)
    assert dict(CapacityReservation.objects.values_list("reservation_id", "pk")) == ids
    assert set(CapacityReservation.objects.values_list("fetched_at", flat=True)) == {NOW + timedelta(hours=1)}

    prod = accounts["ml-prod"]
    reservations_refresh(account=prod, region=REGION, client_factory=client_factory(ML_PROD), now=NOW)
    (standby,) = CapacityReservation.objects.filter(account=prod)
    assert (standby.instance_type, standby.state, standby.end_date, standby.end_date_type) == (
        "g5.12xlarge",
        "active",
        None,
        "unlimited",
    )
    assert _stored(research) == _answered(ML_RESEARCH), "each account's rows are its own"


def test_a_reservation_aws_no_longer_lists_is_removed_and_a_shared_one_is_left_out(fleet, accounts, monkeypatch):
    research = accounts["ml-research"]
    reservations_refresh(account=research, region=REGION, client_factory=client_factory(ML_RESEARCH), now=NOW)
    expired = CapacityReservation.objects.get(account=research, state="expired").reservation_id
    answer = sandbox_reservations.describe_capacity_reservations

    def later(request, **scope):
        response = answer(request, **scope)
        kept = [item for item in response["CapacityReservations"] if item["CapacityReservationId"] != expired]
        if not request.get("NextToken"):  # a reservation another account shares with this one, on the first page
            shared = dict(kept[0], CapacityReservationId="cr-0aaaaaaaaaaaaaaaa", OwnerId=ML_PROD)
            kept.append(shared)
        return response | {"CapacityReservations": kept}

    monkeypatch.setitem(sandbox_aws.SCOPED_ANSWERS["ec2"], "DescribeCapacityReservations", later)
    run = reservations_refresh(account=research, region=REGION, client_factory=client_factory(ML_RESEARCH), now=NOW)
    assert (run.counts["reservations"], run.counts["removed"], run.counts["shared"]) == (2, 1, 1)
    assert sorted(CapacityReservation.objects.filter(account=research).values_list("state", flat=True)) == [
        "active",
        "scheduled",
    ]


def _refused(request, **scope):
    raise AwsError("UnauthorizedOperation", "You are not authorized to perform this operation.")


def test_an_aws_error_fails_the_run_clearly_and_keeps_what_was_stored(fleet, accounts, monkeypatch):
    research = accounts["ml-research"]
    reservations_refresh(account=research, region=REGION, client_factory=client_factory(ML_RESEARCH), now=NOW)
    before = _stored(research)
    monkeypatch.setitem(sandbox_aws.SCOPED_ANSWERS["ec2"], "DescribeCapacityReservations", _refused)
    with pytest.raises(ClientError):
        reservations_refresh(account=research, region=REGION, client_factory=client_factory(ML_RESEARCH), now=NOW)
    failed = CollectionRun.objects.filter(kind=CollectionRun.Kind.RESERVATIONS).first()
    assert failed.status == CollectionRun.Status.FAILED
    assert "UnauthorizedOperation" in failed.error and "DescribeCapacityReservations" in failed.error
    assert _stored(research) == before


def test_capacity_collection_collects_reservations_and_an_aws_error_fails_only_that(
    fleet, accounts, settings, monkeypatch
):
    settings.COSTPLANE_AWS = "sandbox"
    settings.COSTPLANE_SANDBOX_ENDPOINT = ""
    research = accounts["ml-research"]
    assert capacity_collect(account=research, regions=[REGION]) == []
    assert CapacityReservation.objects.filter(account=research).count() == 3

    monkeypatch.setitem(sandbox_aws.SCOPED_ANSWERS["ec2"], "DescribeCapacityReservations", _refused)
    failures = capacity_collect(account=research, regions=[REGION])
    assert len(failures) == 1 and failures[0].startswith(f"{REGION} reservations_refresh: "), failures
    assert "ec2:DescribeCapacityReservations is not granted to the role" in failures[0]
    assert "UnauthorizedOperation" in failures[0]
    latest = {
        kind: CollectionRun.objects.filter(kind=kind, account=research).first().status
        for kind in ("inventory", "utilisation", "quotas", "reservations")
    }
    assert latest == {
        "inventory": "succeeded",
        "utilisation": "succeeded",
        "quotas": "succeeded",
        "reservations": "failed",
    }
    assert CapacityReservation.objects.filter(account=research).count() == 3


def test_it_reads_the_reservations_that_hold_capacity_on_a_day(fleet, accounts):
    research, prod = accounts["ml-research"], accounts["ml-prod"]
    reservations_refresh(account=research, region=REGION, client_factory=client_factory(ML_RESEARCH), now=NOW)
    reservations_refresh(account=prod, region=REGION, client_factory=client_factory(ML_PROD), now=NOW)

    def holding(days: int) -> list[tuple[str, str]]:
        on = TODAY + timedelta(days=days)
        return sorted(
            (r.reservation_type, r.state) for r in reservations_holding(account=research, region=REGION, on=on)
        )

    assert holding(0) == [("default", "active")], "the expired one holds nothing, the block has not started"
    assert holding(29) == [("default", "active")]
    assert holding(30) == [("capacity-block", "scheduled"), ("default", "active")], "from 11:30 on its first day"
    assert holding(44) == [("capacity-block", "scheduled"), ("default", "active")], "until 11:30 on its last day"
    assert holding(45) == [("default", "active")]
    assert holding(89) == [("default", "active")]
    assert holding(90) == [], "the reservation ends at midnight"
    assert holding(-130) == [], "the expired one held capacity then, but is no supply now"
    assert [
        r.instance_type for r in reservations_holding(account=prod, region=REGION, on=TODAY + timedelta(days=3650))
    ] == ["g5.12xlarge"], "an unlimited reservation holds on every day"

    block_day = TODAY + timedelta(days=30)
    assert reserved_capacity_by_type(account=research, region=REGION, on=TODAY) == {
        "p5.48xlarge": Reserved(reserved=Decimal(2), unused=Decimal(1))
    }
    assert reserved_capacity_by_type(account=research, region=REGION, on=block_day) == {
        "p5.48xlarge": Reserved(reserved=Decimal(4), unused=Decimal(3))
    }
    assert reserved_capacity_by_quota(account=research, region=REGION, on=block_day) == {
        P_QUOTA: Reserved(reserved=Decimal(4 * 192), unused=Decimal(3 * 192))
    }
    assert reserved_capacity_by_quota(account=prod, region=REGION, on=TODAY) == {
        G_QUOTA: Reserved(reserved=Decimal(2 * 48), unused=Decimal(2 * 48))
    }
    assert reserved_capacity_by_quota(account=accounts["data"], region=REGION, on=TODAY) == {}
