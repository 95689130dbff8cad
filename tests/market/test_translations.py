"""Danish is the default language: every text in the templates and every
message marked in the code must have a Danish translation."""

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}


def _source_messages() -> set[str]:
    found: set[str] = set()
    method_map = [
        ("templates/**.html", "jinja2"),
        ("market/**.py", "python"),
        ("providers/**.py", "python"),
        ("vouchers/**.py", "python"),
    ]
    options = {"templates/**.html": {"extensions": "jinja2.ext.i18n", "trimmed": "true"}}
    for _, _, message, _, _ in extract_from_dir(str(ROOT), method_map, options, KEYWORDS):
        found.add(message if isinstance(message, str) else message[0])
    return found


def test_every_message_has_a_danish_translation():
    with (ROOT / "market/locale/da/LC_MESSAGES/messages.po").open("rb") as fh:
        catalog = read_po(fh, locale="da")
    translated = {
        m.id if isinstance(m.id, str) else m.id[0]
        for m in catalog
        if m.id and m.string and (m.string if isinstance(m.string, str) else m.string[0])
    }
    messages = _source_messages()
    assert len(messages) > 50
    missing = sorted(messages - translated)
    assert not missing, f"{len(missing)} texts lack a Danish translation, e.g. {missing[:10]}"
