"""The Allocation page: report, tag coverage fragment, and publishing rules through the form."""

from __future__ import annotations

import json
import re

import pytest

from dashboards.views.allocation import RULES_EXAMPLE
from finops.allocation.rules import rules_parse
from finops.models import AllocationRulesVersion
from finops.services.billing_import import billing_export_import
from tests.finops.test_billing_import import focus_rows, write_focus

JANUARY = {"window": "custom", "start": "2026-01-01", "end": "2026-02-01"}
SHARE_SAGEMAKER = {
    "shared_costs": [
        {"name": "SageMaker", "match": {"service": ["Amazon SageMaker"]}, "key": "tag:team", "method": "even"}
    ]
}


@pytest.fixture
def january_billing(tmp_path, db):
    """Ten days: i-0000 untagged (SageMaker, 1.25 a day), i-0001 vision (1.25), i-0002 speech (2.10)."""
    rows = focus_rows(days=10)
    for row in rows:
        if row["ResourceId"] == "i-0002":
            row["BilledCost"] = row["EffectiveCost"] = "2.10"
            row["Tags"] = json.dumps({"team": "speech"})
    billing_export_import(location=str(write_focus(tmp_path / "focus.csv", rows)))


@pytest.fixture
def viewer_client(client, viewer):
    client.force_login(viewer)
    return client


@pytest.fixture
def operator_client(client, operator):
    client.force_login(operator)
    return client


def table_rows(html: str) -> dict[str, list[str]]:
    """The allocation table as {first cell: [other cells]}, tags stripped."""
    table = html[html.index('id="allocation-table"') :]
    table = table[: table.index("</table>")]
    rows = {}
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", table, re.S):
        cells = [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)]
        rows[cells[0]] = cells[1:]
    return rows


def test_it_shows_the_key_values_and_totals_for_a_viewer(january_billing, viewer_client):
    response = viewer_client.get("/allocation/", JANUARY)
    assert response.status_code == 200
    html = response.content.decode()
    rows = table_rows(html)
    assert rows["speech"] == ["$21.00", "$0.00", "45.7%", "$0.00", "0.0%"]
    assert rows["vision"] == ["$12.50", "$0.00", "27.2%", "$0.00", "0.0%"]
    assert rows["Unallocated"] == ["$12.50", "$0.00", "27.2%", "$0.00", "0.0%"]
    assert rows["Total"] == ["$46.00", "$0.00", "100.0%", "$0.00", "0.0%"]
    assert list(rows)[1:4] == ["speech", "vision", "Unallocated"]
    assert '<span title="46" data-exact="46">$46.00</span>' in html  # the exact value behind the cents
    assert 'class="plotly-graph-div"' in html
    csv_link = re.search(r'href="([^"]+)" id="download-csv"', html).group(1).replace("&amp;", "&")
    assert csv_link.startswith("/api/v1/allocations")
    assert "window=2026-01-01%2C2026-02-01" in csv_link and "format=csv" in csv_link
    csv = viewer_client.get(csv_link)
    assert csv.status_code == 200 and csv["Content-Type"].startswith("text/csv")
    assert "speech" in csv.content.decode()


def test_it_returns_the_report_fragment_to_htmx_with_the_chosen_key(january_billing, viewer_client):
    response = viewer_client.get("/allocation/", {**JANUARY, "key": "service"}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert "<html" not in html and 'id="allocation-report"' in html
    assert set(table_rows(html)) >= {"Amazon SageMaker", "Amazon S3", "Amazon Elastic Compute Cloud", "Total"}
    assert table_rows(html)["Total"][0] == "$46.00"


def test_it_renders_the_tag_coverage_fragment(january_billing, viewer_client):
    response = viewer_client.get("/allocation/", {**JANUARY, "panel": "coverage"})
    html = response.content.decode()
    assert response.status_code == 200 and "<html" not in html
    assert "Tag coverage: team" in html
    assert re.search(r"<strong>72\.8%</strong> of usage cost carries", html)  # 33.50 of 46.00
    assert 'id="untagged-resources"' in html and "i-0000" in html and "$12.50" in html
    assert "i-0001" not in html
    assert "plotly-graph-div" in html


def test_it_shows_an_honest_empty_state_without_billing_data(viewer_client):
    html = viewer_client.get("/allocation/").content.decode()
    assert "Nothing to allocate yet" in html
    assert 'id="allocation-table"' not in html
    assert "No rules published yet" in html


def test_it_lets_an_operator_publish_rules_and_then_names_the_new_version(january_billing, operator_client):
    response = operator_client.post(
        "/allocation/?" + "&".join(f"{k}={v}" for k, v in JANUARY.items()),
        {"document": json.dumps(SHARE_SAGEMAKER), "comment": "share SageMaker"},
        follow=True,
    )
    html = response.content.decode()
    assert response.redirect_chain[-1][0].startswith("/allocation/?window=custom")
    assert "Published allocation rules version 1." in html
    assert '<span id="rules-version">1</span>' in html
    version = AllocationRulesVersion.objects.get()
    assert (version.document, version.comment, version.created_by.username) == (
        SHARE_SAGEMAKER,
        "share SageMaker",
        "otto",
    )
    rows = table_rows(html)
    assert rows["Total"][0] == "$46.00"
    assert rows["vision"][1] != "$0.00"  # the SageMaker cost is now split, and shown as shared
    assert "share SageMaker" in html and "Before (no rules)" in html


@pytest.mark.parametrize(
    ("document", "messages"),
    [
        ('{"aliases": {"env": "environment"', ["Not valid JSON: Expecting"]),
        ("[1, 2]", ["The rules document is a JSON object"]),
        (
            json.dumps({"shared_costs": [{"key": "team", "method": "random", "match": {}}], "colour": 1}),
            [
                "shared_costs[0].key: Split across a tag key, for example tag:team.",
                "shared_costs[0].method: Use even, proportional, fixed.",
                "shared_costs[0].match: A filter needs at least one condition.",
                "colour: Unknown section",
            ],
        ),
    ],
)
def test_it_shows_every_error_and_publishes_nothing_for_invalid_rules(operator_client, document, messages):
    response = operator_client.post("/allocation/", {"document": document, "comment": "broken"})
    html = response.content.decode()
    assert response.status_code == 200
    errors = html[html.index('id="rules-errors"') :]
    errors = errors[: errors.index("</ul>")]
    for message in messages:
        assert message in errors
    assert not AllocationRulesVersion.objects.exists()
    assert "broken" in html  # the operator's input is kept for fixing


def test_it_refuses_a_viewers_post_and_shows_the_rules_read_only(viewer_client, operator):
    AllocationRulesVersion.objects.create(number=1, document={"aliases": {"env": "environment"}}, created_by=operator)
    response = viewer_client.post("/allocation/", {"document": "{}"})
    assert response.status_code == 403
    assert AllocationRulesVersion.objects.count() == 1
    html = viewer_client.get("/allocation/").content.decode()
    assert 'id="rules-form"' not in html
    assert '<span id="rules-version">1</span>' in html
    assert "&quot;env&quot;: &quot;environment&quot;" in html


def test_it_offers_a_help_example_that_is_a_valid_rules_document(operator_client):
    rules = rules_parse(RULES_EXAMPLE)
    assert rules.aliases == {"env": "environment"} and rules.shared_costs and rules.virtual_tags
    html = operator_client.get("/allocation/").content.decode()
    assert 'id="rules-form"' in html and 'id="rules-example"' in html
