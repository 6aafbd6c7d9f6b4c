"""Organizations answers for the sandbox organisation: its fixed account ids (moto would invent random ones)."""

from __future__ import annotations

from datetime import UTC, datetime

from sandbox.catalogue import ACCOUNTS, MANAGEMENT_ACCOUNT_ID, ORGANIZATION_ID, Account
from sandbox.errors import AwsError

DEFAULT_PAGE_SIZE = 3  # small pages, so callers' NextToken loops run in the sandbox too
JOINED = datetime(2021, 3, 1, 9, 0, tzinfo=UTC)
MANAGEMENT = next(account for account in ACCOUNTS if account.id == MANAGEMENT_ACCOUNT_ID)


def _account(account: Account) -> dict:
    return {
        "Id": account.id,
        "Arn": account.arn,
        "Email": account.email,
        "Name": account.name,
        "Status": "ACTIVE",
        "State": "ACTIVE",
        "JoinedMethod": "INVITED" if account.role == "management" else "CREATED",
        "JoinedTimestamp": JOINED,
    }


def list_accounts(request: dict) -> dict:
    size = request.get("MaxResults") or DEFAULT_PAGE_SIZE
    token = request.get("NextToken")
    try:
        offset = int(token.removeprefix("accounts-")) if token else 0
    except ValueError as error:
        raise AwsError("InvalidInputException", "The NextToken is not valid") from error
    page = ACCOUNTS[offset : offset + size]
    response: dict = {"Accounts": [_account(account) for account in page]}
    if offset + size < len(ACCOUNTS):
        response["NextToken"] = f"accounts-{offset + size}"
    return response


def describe_account(request: dict) -> dict:
    for account in ACCOUNTS:
        if account.id == request.get("AccountId"):
            return {"Account": _account(account)}
    raise AwsError("AccountNotFoundException", f"Account {request.get('AccountId')} is not in the organization")


def describe_organization(request: dict) -> dict:
    return {
        "Organization": {
            "Id": ORGANIZATION_ID,
            "Arn": f"arn:aws:organizations::{MANAGEMENT_ACCOUNT_ID}:organization/{ORGANIZATION_ID}",
            "FeatureSet": "ALL",
            "MasterAccountArn": MANAGEMENT.arn,
            "MasterAccountId": MANAGEMENT_ACCOUNT_ID,
            "MasterAccountEmail": MANAGEMENT.email,
            "AvailablePolicyTypes": [],
        }
    }
