#!/usr/bin/env python3
"""Splunk external lookup for domain-stats: Splunk's CSV on stdin, the same CSV filled in on stdout.

Splunk runs ``domain_stats_lookup.py domain seen_by_web seen_by_isc seen_by_you category alerts``
(the ``fields_list`` of ``transforms.conf``) and writes its events' rows as CSV with those
columns; the first argument is the input field, the others are filled from one ``POST /batch``
per 10,000 distinct names to the service at ``DOMAIN_STATS_URL`` (default
``http://127.0.0.1:8000``). ``alerts`` is comma-separated. Standard library only, so it runs
under Splunk's own Python. A service that cannot be reached leaves the fields empty and says
why on stderr (Splunk's search log); it never fails the search.
"""

from __future__ import annotations

import csv
import json
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Iterable

BATCH = 10_000
TIMEOUT = float(os.environ.get("DOMAIN_STATS_TIMEOUT", "60"))
ANSWER_FIELDS = ("seen_by_web", "seen_by_isc", "seen_by_you", "category", "alerts")


def ask(url: str, names: list[str]) -> dict[str, dict[str, str]]:
    """Each name's answer fields, as Splunk wants them (strings)."""
    found: dict[str, dict[str, str]] = {}
    for start in range(0, len(names), BATCH):
        chunk = names[start : start + BATCH]
        request = urllib.request.Request(
            url.rstrip("/") + "/batch",
            data=json.dumps(chunk).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            answers = json.load(response)
        for name, answer in zip(chunk, answers, strict=True):
            found[name] = {
                field: ",".join(answer.get(field) or []) if field == "alerts" else str(answer.get(field, ""))
                for field in ANSWER_FIELDS
            }
    return found


def enrich(rows: Iterable[dict[str, str]], input_field: str, url: str) -> tuple[list[dict[str, str]], str]:
    rows = list(rows)
    # Distinct names in the order of the events, so the first event of a new name gets its first contact.
    names = list(dict.fromkeys(row[input_field].strip() for row in rows if row.get(input_field, "").strip()))
    problem = ""
    try:
        found = ask(url, names) if names else {}
    except (OSError, ValueError, urllib.error.URLError) as err:
        found, problem = {}, f"domain-stats at {url} could not answer: {err}"
    for row in rows:
        answer = found.get(row.get(input_field, "").strip())
        if answer:
            row.update({field: value for field, value in answer.items() if field in row})
    return rows, problem


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: domain_stats_lookup.py INPUT_FIELD [OUTPUT_FIELD ...]", file=sys.stderr)
        return 2
    reader = csv.DictReader(sys.stdin)
    header = list(reader.fieldnames or argv)
    rows, problem = enrich(reader, argv[0], os.environ.get("DOMAIN_STATS_URL", "http://127.0.0.1:8000"))
    if problem:
        print(problem, file=sys.stderr)
    writer = csv.DictWriter(sys.stdout, fieldnames=header, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
