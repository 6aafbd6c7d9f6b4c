"""The sandbox's Pricing and Service Quotas answers: AWS's shapes, validated against botocore, paged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from botocore.exceptions import ClientError, ParamValidationError

from sandbox import aws

from .conftest import ML_RESEARCH, client_factory

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
    assert research.get_service_quota(ServiceCode="ec2", QuotaCode="L-417A185B")["Quota"]["Value"] == 1536.0
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
