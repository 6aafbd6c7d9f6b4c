from __future__ import annotations

import sys

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from finops.aws.exports import ExportLocationError
from finops.importers import BillingFileError
from finops.services.billing_import import billing_export_import


class Command(BaseCommand):
    help = (
        "Import a billing export (FOCUS 1.0-1.2, CUR 2.0 or legacy CUR; Parquet, CSV or CSV.gz) from a file, "
        "a folder, or an s3:// prefix with manifests. Replaces what the same source stored for the same "
        "billing account and period; a bad file changes nothing."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("location", help="A file, a folder, or s3://bucket/prefix")
        parser.add_argument(
            "--account", dest="account", default=None, help="12-digit account id for files without an account column"
        )

    def handle(self, *args, location: str, account: str | None, verbosity: int, **options) -> None:
        show_progress = verbosity > 0 and sys.stderr.isatty()
        bar = tqdm(unit=" rows", unit_scale=True, disable=not show_progress, file=sys.stderr)

        def progress(rows_in_file: int, total_rows: int | None) -> None:
            if total_rows and bar.total != total_rows:
                bar.reset(total=total_rows)
            bar.n = rows_in_file
            bar.refresh()

        try:
            run = billing_export_import(location=location, default_account_id=account, progress=progress)
        except (BillingFileError, ExportLocationError) as error:
            raise CommandError(f"Import failed, nothing was changed: {error}") from None
        except ValidationError as error:
            raise CommandError(f"--account: {'; '.join(error.messages)}") from None
        finally:
            bar.close()
        if verbosity > 0:
            for warning in run.detail.get("warnings", []):
                self.stderr.write(self.style.WARNING(f"Warning: {warning}"))
            self.stdout.write(
                self.style.SUCCESS(
                    f"Imported {run.rows:,} rows from {len(run.detail['files'])} file(s) in "
                    f"{run.detail['seconds']:.1f}s: {run.rows_inserted:,} new, {run.rows_deleted:,} removed "
                    f"(ingestion run {run.pk})."
                )
            )
