"""The docs name real files, and the architecture page accounts for every module of the package."""

from __future__ import annotations

import re
from pathlib import Path

import domain_stats

PACKAGE = Path(domain_stats.__file__).resolve().parent
ROOT = PACKAGE.parent
ARCHITECTURE = ROOT / "docs" / "architecture.md"


def test_every_file_the_architecture_page_names_exists() -> None:
    text = ARCHITECTURE.read_text(encoding="utf-8")
    named = set(re.findall(r"`((?:domain_stats|tests|scripts)/[\w/]+\.py)`", text))
    assert len(named) > 30
    assert sorted(path for path in named if not (ROOT / path).is_file()) == []


def test_every_module_is_on_the_map() -> None:
    """The folder map lists each module by file name under its folder, or the page names its path."""
    text = ARCHITECTURE.read_text(encoding="utf-8")
    missing = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name in ("__init__.py", "__main__.py"):
            continue
        relative = path.relative_to(ROOT).as_posix()
        if relative not in text and not re.search(rf"(?<![\w/]){re.escape(path.name)}\b", text):
            missing.append(relative)
    assert missing == []


def test_the_docs_cite_nothing_outside_the_repository() -> None:
    for path in [*ROOT.glob("*.md"), *(ROOT / "docs").glob("*.md"), *PACKAGE.rglob("*.py")]:
        assert "DESIGN.md" not in path.read_text(encoding="utf-8"), path
        assert "../shared" not in path.read_text(encoding="utf-8") or path.name == "README.md", path
