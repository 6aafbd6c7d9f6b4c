"""The Accounts page's form for operators: a new cloud account."""

from __future__ import annotations

from django import forms

from finops.models.accounts import account_id_validator


class CloudAccountForm(forms.Form):
    account_id = forms.CharField(max_length=12, validators=[account_id_validator], label="Account id (12 digits)")
    name = forms.CharField(max_length=200, required=False)
    role_arn = forms.CharField(max_length=2048, required=False, label="Role ARN to assume")
    external_id = forms.CharField(max_length=1224, required=False, label="External id")
    regions = forms.CharField(required=False, help_text="Comma-separated, e.g. us-east-1,eu-west-1")
    cost_explorer_enabled = forms.BooleanField(required=False, initial=True, label="Ingest Cost Explorer")
    export_s3_uri = forms.CharField(max_length=1024, required=False, label="Data export s3:// URI")

    def clean_regions(self) -> list[str]:
        return [region.strip() for region in self.cleaned_data["regions"].split(",") if region.strip()]

    def clean_export_s3_uri(self) -> str:
        value = self.cleaned_data["export_s3_uri"].strip()
        if value and not value.startswith("s3://"):
            raise forms.ValidationError("Use an s3://bucket/prefix URI.")
        return value
