"""The shared RDAP corpus: real registry responses and the dates MANIFEST.tsv says they carry."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson

from tests.support.shared import SHARED

CORPUS = SHARED / "rdap-corpus"


@dataclass(frozen=True)
class CorpusEntry:
    file: str
    domain: str | None
    registration: datetime | None
    expiration: datetime | None

    @property
    def body(self) -> bytes:
        return (CORPUS / self.file).read_bytes()


def _utc(text: str) -> datetime | None:
    """The manifest's date, read with the standard library (an oracle independent of our parser)."""
    if not text:
        return None
    stamp = datetime.fromisoformat(text)
    return stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)


def corpus_entries() -> list[CorpusEntry]:
    if not (CORPUS / "MANIFEST.tsv").exists():
        return []
    entries = []
    with open(CORPUS / "MANIFEST.tsv", newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            doc = orjson.loads((CORPUS / row["file"]).read_bytes())
            name = doc.get("ldhName") if isinstance(doc, dict) else None
            entries.append(
                CorpusEntry(
                    row["file"],
                    name.rstrip(".").lower() if isinstance(name, str) else None,
                    _utc(row["registration_date"]),
                    _utc(row["expiration_date"]),
                )
            )
    return entries


ENTRIES = corpus_entries()
DATED = [e for e in ENTRIES if e.registration is not None]
UNDATED = [e for e in ENTRIES if e.registration is None]
