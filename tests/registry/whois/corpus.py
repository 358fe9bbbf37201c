"""WHOIS answers with the dates a manifest says they carry: the shared corpus and the kept samples."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.support.shared import SHARED

SHARED_CORPUS = SHARED / "whois-corpus"
SAMPLES = Path(__file__).resolve().parent / "samples"


@dataclass(frozen=True)
class WhoisEntry:
    path: Path
    tld: str
    domain: str
    created: str  # "YYYY-MM-DD HH:MM:SS" (UTC), "NONE" or "NOTFOUND"
    expires: str

    @property
    def raw(self) -> bytes:
        return self.path.read_bytes()


def utc(text: str) -> float:
    """The manifest's UTC date, read with the standard library (an oracle independent of our parser)."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC).timestamp()


def entries(directory: Path) -> list[WhoisEntry]:
    manifest = directory / "MANIFEST.tsv"
    if not manifest.exists():
        return []
    with open(manifest, newline="", encoding="utf-8") as fh:
        return [
            WhoisEntry(
                directory / row["file"], row["tld"], row["domain"], row["expected_created"], row["expected_expires"]
            )
            for row in csv.DictReader(fh, delimiter="\t")
        ]


def params(directory: Path, reason: str) -> list[object]:
    """Test parameters for each entry, or one skipped parameter saying why there are none."""
    found = entries(directory)
    if not found:
        return [pytest.param(None, marks=pytest.mark.skip(reason=reason))]
    return [pytest.param(entry, id=entry.path.name) for entry in found]


CORPUS_PARAMS = params(SHARED_CORPUS, "../shared/whois-corpus is not present")
SAMPLE_PARAMS = params(SAMPLES, "tests/registry/whois/samples is missing")
