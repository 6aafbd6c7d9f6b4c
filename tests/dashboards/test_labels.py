"""The shared labels: enum values as words, performance risk one way, account names beside ids."""

from __future__ import annotations

from decimal import Decimal

import django_tables2 as tables
import pytest
from django.template import Context, Template
from django.test import RequestFactory

from capacity.models import Recommendation
from dashboards.tables.columns import AccountColumn, EnumColumn
from dashboards.templatetags.labels import account_label_text, enum_label, risk_label
from finops.models import CloudAccount


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("Ec2Instance", "EC2 instance"),
        ("VeryLow", "Very low"),
        ("GPU_PERCENTAGE", "GPU %"),
        ("after_discounts", "After discounts"),
        ("GPUUnderprovisioned", "GPU underprovisioned"),
        ("SageMakerEndpoint", "SageMaker endpoint"),
        ("rolled_back", "Rolled back"),
        ("CPU_UTILIZATION", "CPU utilization"),
        ("NotOptimized", "Not optimized"),
        ("open", "Open"),
        ("", "—"),
        (None, "—"),
    ],
)
def test_it_turns_enum_values_into_words(value, words):
    assert enum_label(value) == words


def test_it_prefers_the_django_choices_label():
    assert enum_label("compute_optimizer", Recommendation.Source.choices) == str(
        dict(Recommendation.Source.choices)["compute_optimizer"]
    )
    assert enum_label("not_a_choice", Recommendation.Source.choices) == "Not a choice"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("1.0"), "1 of 4 (low)"),
        ("1.0", "1 of 4 (low)"),
        (1, "1 of 4 (low)"),
        ("VeryLow", "0 of 4 (very low)"),
        ("VeryHigh", "4 of 4 (very high)"),
        (Decimal("3"), "3 of 4 (high)"),
        (None, "—"),
    ],
)
def test_it_shows_a_performance_risk_one_way(value, text):
    assert risk_label(value) == text


@pytest.fixture
def accounts(db):
    CloudAccount.objects.create(account_id="111122223333", name="ml-training")
    CloudAccount.objects.create(account_id="444455556666", name="")


def test_it_puts_the_account_name_beside_its_id_in_templates(accounts, django_assert_num_queries):
    request = RequestFactory().get("/")
    template = Template(
        "{% load labels %}{% account_label a %}|{% account_label b %}|{% account_label c %}|{% account_text a %}"
    )
    with django_assert_num_queries(1):  # the names are read once per request
        html = template.render(Context({"request": request, "a": "111122223333", "b": "444455556666", "c": "999"}))
    first, second, third, text = html.split("|")
    assert '<span class="account-name">ml-training</span>' in first and "111122223333" in first
    assert "account-name" not in second and "444455556666" in second
    assert "999" in third
    assert text == "ml-training (111122223333)"
    assert account_label_text("111122223333", {"111122223333": "ml-training"}) == "ml-training (111122223333)"


def test_the_shared_columns_label_accounts_and_enums(accounts):
    class Table(tables.Table):
        account = AccountColumn()
        source = EnumColumn(choices=Recommendation.Source.choices)
        finding = EnumColumn()

    rows = [
        {"account": "111122223333", "source": "compute_optimizer", "finding": "GPUOverprovisioned"},
        {"account": CloudAccount.objects.get(account_id="444455556666"), "source": "costplane", "finding": "VeryLow"},
    ]
    html = Table(rows).as_html(RequestFactory().get("/"))
    assert "ml-training" in html and "111122223333" in html and "444455556666" in html
    assert dict(Recommendation.Source.choices)["compute_optimizer"] in html
    assert "GPU overprovisioned" in html and "Very low" in html
    assert "GPUOverprovisioned" not in html and "VeryLow" not in html
