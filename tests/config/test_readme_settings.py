"""Every environment variable config/settings.py reads is documented in the README's configuration table."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_it_documents_every_setting_the_code_reads():
    source = (ROOT / "config" / "settings.py").read_text()
    read = set(re.findall(r'\benv_[a-z]+\(\s*"([A-Z][A-Z0-9_]+)"', source))
    read |= set(re.findall(r'os\.environ\.get\(\s*"([A-Z][A-Z0-9_]+)"', source))
    assert {"DATABASE_URL", "COSTPLANE_AWS", "COSTPLANE_ACTIONS_ENABLED"} <= read, "the pattern finds settings"
    readme = (ROOT / "README.md").read_text()
    documented = set(re.findall(r"^\| `([A-Z][A-Z0-9_]+)` \|", readme, flags=re.M))
    assert sorted(read - documented) == []
