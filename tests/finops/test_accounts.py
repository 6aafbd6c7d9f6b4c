from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber

from finops.models import CloudAccount
from finops.services.accounts import member_accounts_discover


@pytest.mark.django_db
def test_it_lets_an_operator_add_an_account_through_the_api(api_client, operator):
    api_client.force_authenticate(operator)
    response = api_client.post(
        "/api/v1/accounts/",
        {"account_id": "012345678901", "name": "ml-prod", "role_arn": "arn:aws:iam::012345678901:role/costplane",
         "external_id": "s3cr3t", "regions": ["us-east-1"]},
        format="json",
    )  # fmt: skip
    assert response.status_code == 201, response.content
    account = CloudAccount.objects.get(account_id="012345678901")
    assert (account.name, account.external_id, account.dry_run) == ("ml-prod", "s3cr3t", True)
    assert "external_id" not in response.json()


@pytest.mark.django_db
def test_it_refuses_accounts_from_viewers_and_bad_ids(api_client, viewer, operator):
    api_client.force_authenticate(viewer)
    assert api_client.post("/api/v1/accounts/", {"account_id": "012345678901"}, format="json").status_code == 403
    api_client.force_authenticate(operator)
    response = api_client.post("/api/v1/accounts/", {"account_id": "12345"}, format="json")
    assert response.status_code == 400
    assert "account_id" in response.json()["errors"]
    assert not CloudAccount.objects.exists()


@pytest.mark.django_db
def test_it_adds_an_account_from_the_ui_form_for_operators_only(client, operator, viewer):
    client.force_login(viewer)
    assert client.post("/accounts/", {"account_id": "111122223333"}).status_code == 403
    client.force_login(operator)
    response = client.post(
        "/accounts/", {"account_id": "111122223333", "name": "research", "regions": "us-east-1, eu-west-1"}
    )
    assert response.status_code == 302
    assert CloudAccount.objects.get(account_id="111122223333").regions == ["us-east-1", "eu-west-1"]
    page = client.get("/accounts/")
    assert "research (111122223333)" in page.content.decode()
    bad = client.post("/accounts/", {"account_id": "1111"})
    assert "An AWS account id has exactly 12 digits." in bad.content.decode()


@pytest.mark.django_db
def test_it_discovers_member_accounts_through_organizations():
    payer = CloudAccount.objects.create(account_id="999988887777", name="payer", regions=["us-east-1"])
    client = boto3.client("organizations", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stub:
        stub.add_response(
            "list_accounts",
            {
                "Accounts": [
                    {"Id": "999988887777", "Name": "payer", "Status": "ACTIVE"},
                    {"Id": "111111111111", "Name": "ml-prod", "Status": "ACTIVE"},
                    {"Id": "222222222222", "Name": "closed", "Status": "SUSPENDED"},
                ],
                "NextToken": "page-2",
            },
            {},
        )
        stub.add_response(
            "list_accounts", {"Accounts": [{"Id": "333333333333", "Name": "data", "Status": "ACTIVE"}]},
            {"NextToken": "page-2"},
        )  # fmt: skip
        found = member_accounts_discover(payer=payer, client=client)
        stub.assert_no_pending_responses()
    assert [account.account_id for account in found] == ["111111111111", "333333333333"]
    member = CloudAccount.objects.get(account_id="333333333333")
    assert (member.payer, member.discovered, member.name, member.regions) == (payer, True, "data", ["us-east-1"])
    assert not CloudAccount.objects.filter(account_id="222222222222").exists()


@pytest.mark.django_db
def test_it_adds_a_team_from_the_command_line_and_updates_it_again():
    from django.core.management import call_command

    from finops.models import Team

    call_command("add_team", "Vision", "--tag-value", "vision", "--tag-value", "cv", stdout=None)
    call_command("add_team", "Vision", "--tag-value", "vision", stdout=None)
    team = Team.objects.get()
    assert (team.name, team.slug, team.tag_values) == ("Vision", "vision", ["vision"])
