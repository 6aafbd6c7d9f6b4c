"""The sandbox's Pricing, Service Quotas and EC2 reservation answers: AWS's shapes, validated against botocore, paged,
filtered."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError, ParamValidationError
from botocore.stub import Stubber
from moto import mock_aws

from sandbox import aws
from sandbox.catalogue import ACCOUNT_IDS
from sandbox.errors import AwsError

from .conftest import ML_PROD, ML_RESEARCH, REGION, client_factory

EXAMPLE = Path("/work/shared/data/aws-api-examples/pricing__get-products__output1.json")


def test_it_answers_get_products_in_the_price_list_format_across_pages():
    pricing = client_factory(ML_RESEARCH)("pricing")
    documents, token = [], None
    while True:
        page = pricing.get_products(ServiceCode="AmazonEC2", MaxResults=7, **({"NextToken": token} if token else {}))
        documents += [json.loads(text) for text in page["PriceList"]]
        if not (token := page.get("NextToken")):
            break
    # (the types the organisation runs + the GPU types it does not) x regions x (Linux, Windows)
    assert len(documents) == (8 + 13) * 3 * 2
    if EXAMPLE.exists():
        example = json.loads(json.loads(EXAMPLE.read_text())["PriceList"][0])
        assert set(documents[0]) == set(example)
        dimension = next(iter(next(iter(documents[0]["terms"]["OnDemand"].values()))["priceDimensions"].values()))
        assert set(dimension) == set(
            next(iter(next(iter(example["terms"]["OnDemand"].values()))["priceDimensions"].values()))
        )


def test_it_answers_service_quotas_per_account_and_raises_aws_errors():
    research = client_factory(ML_RESEARCH)("service-quotas")
    assert research.get_service_quota(ServiceCode="ec2", QuotaCode="L-417A185B")["Quota"]["Value"] == 800.0
    other = client_factory("481516234204")("service-quotas")
    assert other.get_service_quota(ServiceCode="ec2", QuotaCode="L-417A185B")["Quota"]["Value"] == 0.0
    quotas, token = [], None
    while True:
        page = research.list_service_quotas(
            ServiceCode="sagemaker", MaxResults=5, **({"NextToken": token} if token else {})
        )
        quotas += page["Quotas"]
        if not (token := page.get("NextToken")):
            break
    assert "ml.p4d.24xlarge for training job usage" in {quota["QuotaName"] for quota in quotas}
    with pytest.raises(ClientError) as raised:
        research.get_service_quota(ServiceCode="ec2", QuotaCode="L-00000000")
    assert raised.value.response["Error"]["Code"] == "NoSuchResourceException"


def test_it_rejects_a_malformed_answer_before_it_reaches_the_product(monkeypatch):
    monkeypatch.setitem(aws.ANSWERS["pricing"], "GetProducts", lambda request: {"PriceList": [{"not": "a string"}]})
    with pytest.raises(ParamValidationError):
        client_factory(ML_RESEARCH)("pricing").get_products(ServiceCode="AmazonEC2")
    monkeypatch.setitem(
        aws.SCOPED_ANSWERS["service-quotas"],
        "ListServiceQuotas",
        lambda request, **scope: {"Quotas": [{"Value": "lots"}]},
    )
    with pytest.raises(ParamValidationError):
        client_factory(ML_RESEARCH)("service-quotas").list_service_quotas(ServiceCode="ec2")


# --- EC2 capacity reservations and Reserved Instances (moto implements neither) --------------------------------

SANDBOX_TODAY = date(2025, 6, 16)
DATA = ACCOUNT_IDS["data"]


def _utc(day: date, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


@pytest.fixture
def sandbox_today(monkeypatch):
    monkeypatch.setenv("COSTPLANE_SANDBOX_TODAY", SANDBOX_TODAY.isoformat())
    monkeypatch.setenv("COSTPLANE_SANDBOX_SIZE", "small")
    return SANDBOX_TODAY


def _all_reservations(ec2, **params) -> list[dict]:
    found, token = [], None
    while True:
        page = ec2.describe_capacity_reservations(**params, **({"NextToken": token} if token else {}))
        found += page["CapacityReservations"]
        if not (token := page.get("NextToken")):
            return found


def _summary(reservation: dict) -> tuple:
    return (
        reservation["InstanceType"], reservation["ReservationType"], reservation["State"],
        reservation["TotalInstanceCount"], reservation["AvailableInstanceCount"], reservation["StartDate"],
        reservation.get("EndDate"), reservation["EndDateType"],
    )  # fmt: skip


def test_it_answers_each_accounts_capacity_reservations_dated_from_the_sandboxs_today(sandbox_today):
    research = _all_reservations(client_factory(ML_RESEARCH)("ec2"))
    assert sorted(_summary(item) for item in research) == sorted([
        ("p5.48xlarge", "default", "active", 2, 1, _utc(SANDBOX_TODAY - timedelta(days=45)),
         _utc(SANDBOX_TODAY + timedelta(days=90)), "limited"),
        ("p5.48xlarge", "capacity-block", "scheduled", 2, 2, _utc(SANDBOX_TODAY + timedelta(days=30), 11, 30),
         _utc(SANDBOX_TODAY + timedelta(days=44), 11, 30), "limited"),
        ("g5.12xlarge", "default", "expired", 2, 2, _utc(SANDBOX_TODAY - timedelta(days=200)),
         _utc(SANDBOX_TODAY - timedelta(days=120)), "limited"),
    ])  # fmt: skip
    for item in research:
        assert item["OwnerId"] == ML_RESEARCH
        assert item["CapacityReservationArn"] == (
            f"arn:aws:ec2:{REGION}:{ML_RESEARCH}:capacity-reservation/{item['CapacityReservationId']}"
        )
    prod = _all_reservations(client_factory(ML_PROD)("ec2"))
    assert [_summary(item) for item in prod] == [
        ("g5.12xlarge", "default", "active", 2, 2, _utc(SANDBOX_TODAY - timedelta(days=150)), None, "unlimited")
    ]
    assert _all_reservations(client_factory(DATA)("ec2")) == []
    assert _all_reservations(client_factory(ML_RESEARCH, "eu-west-1")("ec2")) == []


def test_the_full_size_holds_the_small_reservations_scaled_and_more(sandbox_today, monkeypatch):
    small = {item["CapacityReservationId"]: item for item in _all_reservations(client_factory(ML_RESEARCH)("ec2"))}
    monkeypatch.setenv("COSTPLANE_SANDBOX_SIZE", "full")
    full = {item["CapacityReservationId"]: item for item in _all_reservations(client_factory(ML_RESEARCH)("ec2"))}
    assert set(full) == set(small), "the same reservations, with the same ids"
    for reservation_id, item in small.items():
        assert full[reservation_id]["TotalInstanceCount"] == 10 * item["TotalInstanceCount"]
        assert full[reservation_id]["AvailableInstanceCount"] == 10 * item["AvailableInstanceCount"]
    west = _all_reservations(client_factory(ML_RESEARCH, "us-west-2")("ec2"))
    held = [
        (item["InstanceType"], item["State"], item["TotalInstanceCount"], item["AvailableInstanceCount"])
        for item in west
    ]
    assert held == [("p4d.24xlarge", "active", 6, 2)], "a reservation of the full size only, not scaled"


def test_it_pages_capacity_reservations_and_rejects_a_bad_token(sandbox_today):
    ec2 = client_factory(ML_RESEARCH)("ec2")
    first = ec2.describe_capacity_reservations(MaxResults=1000)
    assert len(first["CapacityReservations"]) == 2 and first["NextToken"], "at most 2 a page, however many asked"
    one_by_one = [
        item
        for page in ec2.get_paginator("describe_capacity_reservations").paginate(PaginationConfig={"PageSize": 1})
        for item in page["CapacityReservations"]
    ]
    assert len(one_by_one) == 3
    assert one_by_one == _all_reservations(ec2)
    with pytest.raises(ClientError) as raised:
        ec2.describe_capacity_reservations(NextToken="not-a-token")
    assert raised.value.response["Error"]["Code"] == "InvalidNextToken"


def test_it_filters_capacity_reservations_as_ec2_does(sandbox_today):
    ec2 = client_factory(ML_RESEARCH)("ec2")
    holding = _all_reservations(ec2, Filters=[{"Name": "state", "Values": ["active", "scheduled"]}])
    assert sorted(item["State"] for item in holding) == ["active", "scheduled"]
    p5_active = _all_reservations(
        ec2, Filters=[{"Name": "instance-type", "Values": ["p5.*"]}, {"Name": "state", "Values": ["active"]}]
    )
    assert [(item["InstanceType"], item["ReservationType"]) for item in p5_active] == [("p5.48xlarge", "default")]
    vision = _all_reservations(ec2, Filters=[{"Name": "tag:team", "Values": ["vision"]}])
    assert [item["ReservationType"] for item in vision] == ["capacity-block"]
    wanted = vision[0]["CapacityReservationId"]
    assert [item["CapacityReservationId"] for item in _all_reservations(ec2, CapacityReservationIds=[wanted])] == [
        wanted
    ]
    for params, code in (
        ({"CapacityReservationIds": ["cr-0123456789abcdef0"]}, "InvalidCapacityReservationId.NotFound"),
        ({"CapacityReservationIds": ["cr-nope"]}, "InvalidCapacityReservationId.Malformed"),
        ({"Filters": [{"Name": "colour", "Values": ["red"]}]}, "InvalidParameterValue"),
        ({"DryRun": True}, "DryRunOperation"),
    ):
        with pytest.raises(ClientError) as raised:
            ec2.describe_capacity_reservations(**params)
        assert raised.value.response["Error"]["Code"] == code, params


def test_it_answers_reserved_instances_per_account_with_their_terms(sandbox_today):
    data = client_factory(DATA)("ec2").describe_reserved_instances()["ReservedInstances"]
    assert sorted(
        (item["InstanceType"], item["InstanceCount"], item["State"], item["OfferingType"]) for item in data
    ) == [
        ("m5.xlarge", 1, "retired", "All Upfront"),
        ("m6i.2xlarge", 1, "active", "No Upfront"),
    ]
    prod_ec2 = client_factory(ML_PROD)("ec2")
    (g5,) = prod_ec2.describe_reserved_instances()["ReservedInstances"]
    assert (g5["InstanceType"], g5["InstanceCount"], g5["OfferingClass"], g5["Scope"], g5["Duration"]) == (
        "g5.xlarge", 2, "convertible", "Region", 3 * 365 * 24 * 3600,
    )  # fmt: skip
    assert g5["Start"] < _utc(SANDBOX_TODAY) < g5["End"]
    assert g5["RecurringCharges"] == [{"Amount": 0.272, "Frequency": "Hourly"}]
    active = client_factory(DATA)("ec2").describe_reserved_instances(Filters=[{"Name": "state", "Values": ["active"]}])
    assert [item["InstanceType"] for item in active["ReservedInstances"]] == ["m6i.2xlarge"]
    assert prod_ec2.describe_reserved_instances(OfferingClass="standard")["ReservedInstances"] == []
    assert client_factory(ML_RESEARCH)("ec2").describe_reserved_instances()["ReservedInstances"] == []


def test_its_ec2_answers_pass_botocores_stubber_and_moto_answers_the_rest(sandbox_today):
    research = client_factory(ML_RESEARCH)("ec2")
    answers = {
        "describe_capacity_reservations": research.describe_capacity_reservations(),
        "describe_reserved_instances": client_factory(ML_PROD)("ec2").describe_reserved_instances(),
    }
    plain = boto3.client("ec2", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(plain) as stubber:  # add_response checks the response against the operation's output shape
        for method, answer in answers.items():
            body = {key: value for key, value in answer.items() if key != "ResponseMetadata"}
            assert body[next(iter(body))], "an answer with something in it"
            stubber.add_response(method, body)
            assert {key: value for key, value in getattr(plain, method)().items() if key != "ResponseMetadata"} == body
    with mock_aws():
        ec2 = client_factory(ML_RESEARCH)("ec2")
        ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1, InstanceType="p5.48xlarge")
        (reservation,) = ec2.describe_instances()["Reservations"]
        assert reservation["Instances"][0]["InstanceType"] == "p5.48xlarge", "moto answers DescribeInstances"
        assert len(_all_reservations(ec2)) == 3, "the sandbox answers DescribeCapacityReservations beside moto"


def test_it_rejects_a_malformed_reservation_answer_and_raises_its_aws_errors(sandbox_today, monkeypatch):
    monkeypatch.setitem(
        aws.SCOPED_ANSWERS["ec2"],
        "DescribeCapacityReservations",
        lambda request, **scope: {"CapacityReservations": [{"TotalInstanceCount": "two"}]},
    )
    with pytest.raises(ParamValidationError):
        client_factory(ML_RESEARCH)("ec2").describe_capacity_reservations()

    def refused(request, **scope):
        raise AwsError("UnauthorizedOperation", "You are not authorized to perform this operation.")

    monkeypatch.setitem(aws.SCOPED_ANSWERS["ec2"], "DescribeReservedInstances", refused)
    with pytest.raises(ClientError) as raised:
        client_factory(ML_RESEARCH)("ec2").describe_reserved_instances()
    assert raised.value.response["Error"]["Code"] == "UnauthorizedOperation"
