"""The alert tokens have one source (domain_stats.alerts): the README's table and the code use it."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import domain_stats
from domain_stats import alerts
from domain_stats.registry.rdap import errors as rdap_errors

ROOT = Path(domain_stats.__file__).resolve().parent
README = ROOT.parent / "README.md"
# What a token looks like: upper-case words, joined by hyphens (RDAP-NOT-FOUND, TOO-LARGE, TIMEOUT).
TOKEN = re.compile(r"[A-Z]{2,}(?:-[A-Z]+)*")
HYPHENATED = re.compile(r"[A-Z]{2,}(?:-[A-Z]+)+")


def readme_alert_rows() -> list[tuple[str, str]]:
    """The rows of the README table headed ``| alert | meaning |``."""
    text = README.read_text(encoding="utf-8")
    table = text.split("| alert | meaning |\n|---|---|\n", 1)[1].split("\n\n", 1)[0]
    rows = []
    for line in table.splitlines():
        match = re.fullmatch(r"\| `([^`]+)` \| (.+) \|", line)
        assert match, f"not an alert row: {line!r}"
        rows.append((match[1], match[2]))
    return rows


def test_the_readme_table_is_the_alerts_module() -> None:
    assert readme_alert_rows() == list(alerts.ALERTS.items())
    assert alerts.markdown_table() in README.read_text(encoding="utf-8")


def test_every_token_has_a_meaning_and_the_token_shape() -> None:
    assert len(alerts.ALERTS) >= 25
    for token, meaning in alerts.ALERTS.items():
        assert TOKEN.fullmatch(token), token
        assert meaning and "\n" not in meaning and "|" not in meaning, token


def test_no_module_writes_a_token_of_its_own() -> None:
    """A token (or a string shaped like one) appears only in alerts.py; everything else imports it."""
    strays = []
    for path in ROOT.rglob("*.py"):
        if path.name == "alerts.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
                continue
            if node.value.partition(":")[0] in alerts.ALERTS or HYPHENATED.match(node.value):
                strays.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.value!r}")
    assert strays == []


def test_every_rdap_error_carries_a_documented_token() -> None:
    classes = [getattr(rdap_errors, name) for name in rdap_errors.__all__]
    concrete = [cls for cls in classes if cls is not rdap_errors.RdapError]
    assert len(concrete) == 8
    assert all(cls.alert in alerts.ALERTS for cls in concrete)


def test_a_reason_follows_the_token() -> None:
    assert alerts.with_reason(alerts.INVALID_NAME, "empty name") == "INVALID-NAME: empty name"
