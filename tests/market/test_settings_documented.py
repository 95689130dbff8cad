"""docs/settings.md documents every MARKET_* setting, and only settings that exist."""

import re
from pathlib import Path

from market.config import Settings

DOC = Path(__file__).resolve().parents[2] / "docs" / "settings.md"


def test_every_setting_is_documented_and_nothing_else():
    documented = set(re.findall(r"^\| `(MARKET_[A-Z0-9_]+)`", DOC.read_text(), re.MULTILINE))
    fields = {f"MARKET_{name.upper()}" for name in Settings.model_fields}
    assert fields - documented == set(), "settings missing from docs/settings.md"
    assert documented - fields == set(), "docs/settings.md names settings that do not exist"
