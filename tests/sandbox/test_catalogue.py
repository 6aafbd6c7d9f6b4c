from __future__ import annotations

import re
from datetime import date, datetime

from sandbox.catalogue import ACCOUNTS, MANAGEMENT_ACCOUNT_ID, catalogue_build

from .conftest import TODAY


def test_it_rebuilds_the_same_catalogue_with_the_same_ids():
    first = catalogue_build(seed=7, size="small", today=TODAY)
    again = catalogue_build(seed=7, size="small", today=TODAY)
    assert first == again
    assert [r.id for r in first.resources] == [r.id for r in again.resources]


def test_it_gives_other_ids_for_another_seed():
    ids = {r.id for r in catalogue_build(seed=7, size="small", today=TODAY).resources if r.kind == "ec2_instance"}
    other = {r.id for r in catalogue_build(seed=8, size="small", today=TODAY).resources if r.kind == "ec2_instance"}
    assert ids.isdisjoint(other)


def test_it_keeps_small_resources_in_the_full_catalogue():
    small = catalogue_build(size="small", today=TODAY)
    full = catalogue_build(size="full", today=TODAY)
    long_lived = {r.id for r in small.resources if r.kind != "sagemaker_training_job"}
    assert long_lived <= {r.id for r in full.resources}
    assert len(full.resources) > 3 * len(small.resources)


def test_it_has_a_payer_and_member_accounts_with_fixed_ids():
    assert [a.id for a in ACCOUNTS if a.role == "management"] == [MANAGEMENT_ACCOUNT_ID]
    members = {a.name: a.id for a in ACCOUNTS if a.role == "member"}
    assert {"ml-prod", "ml-research", "platform", "data"} <= set(members)
    assert all(re.fullmatch(r"\d{12}", account.id) for account in ACCOUNTS)


def test_it_uses_aws_shaped_ids_and_the_agreed_tags():
    catalogue = catalogue_build(size="small", today=TODAY)
    kinds = {r.kind for r in catalogue.resources}
    assert {"ec2_instance", "sagemaker_endpoint", "sagemaker_notebook", "sagemaker_training_job"} <= kinds
    assert {"s3_bucket", "nat_gateway"} <= kinds
    for resource in catalogue.resources:
        if resource.kind == "ec2_instance":
            assert re.fullmatch(r"i-0[0-9a-f]{16}", resource.id)
        if resource.kind.startswith("sagemaker_"):
            assert resource.id.startswith(f"arn:aws:sagemaker:{resource.region}:{resource.account_id}:")
            if resource.tags:
                assert {"model", "model_version"} <= set(resource.tags)
    teams = {r.tags.get("team") for r in catalogue.resources}
    assert {"vision", "speech", "recsys", "platform"} <= teams
    assert {r.tags.get("environment") for r in catalogue.resources} >= {"prod", "dev", "staging"}


def test_it_has_endpoints_with_busy_idle_and_weekday_traffic():
    catalogue = catalogue_build(size="small", today=TODAY)
    endpoints = {r.name: r.profile for r in catalogue.resources if r.kind == "sagemaker_endpoint"}
    monday_afternoon, saturday_afternoon = datetime(2025, 6, 9, 15), datetime(2025, 6, 14, 15)
    assert endpoints["resnet-tagger-prod"].at(monday_afternoon) > 0.8
    assert endpoints["resnet-tagger-prod"].at(monday_afternoon) > 2 * endpoints["resnet-tagger-prod"].at(
        datetime(2025, 6, 9, 3)
    )
    assert endpoints["resnet-tagger-dev"].at(monday_afternoon) < 0.05
    assert endpoints["whisper-asr-prod"].at(monday_afternoon) > 0.5
    assert endpoints["whisper-asr-prod"].at(saturday_afternoon) == 0


def test_it_starts_history_thirteen_months_before_this_month():
    catalogue = catalogue_build(size="small", today=date(2025, 6, 15))
    assert catalogue.start == date(2024, 5, 1)
    assert catalogue.end == date(2025, 6, 15)
