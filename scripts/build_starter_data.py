"""Build the packaged starter set (domain_stats/data/starter-domains.txt.gz) from top1m.import.

    python scripts/build_starter_data.py ../shared/data/top1m.import [OUTPUT]

The source is the original domain_stats 1.0.1 package's ``top1m.import`` (GPL-3.0): creation
dates as its authors collected them through WHOIS, expiry dates from the same collection.
Only rows that are registered domains under the ICANN section of the Public Suffix List and
have a readable creation date are kept; the output is in the update feed's line format,
sorted by domain, gzip-compressed with a fixed timestamp so a rebuild gives the same bytes.
"""

from __future__ import annotations

import gzip
import sys
from pathlib import Path

import orjson

from domain_stats.dates import parse_date_value
from domain_stats.feed.format import ADD, format_feed_line
from domain_stats.feed.update import check_domain
from domain_stats.lookup.starter import STARTER_FILE
from domain_stats.names import DEFAULT_PROHIBITED, NameReducer


def main(source: Path, output: Path = STARTER_FILE) -> None:
    names = NameReducer(DEFAULT_PROHIBITED)
    rows: dict[str, str] = {}
    skipped = 0
    for entry in orjson.loads(source.read_bytes()):
        domain = entry.get("domain") if isinstance(entry, dict) else None
        try:
            if not isinstance(domain, str) or check_domain(names, domain) is not None:
                raise ValueError(domain)
            created = parse_date_value(entry.get("seen_by_web"))
            expires = parse_date_value(entry["expires"]) if entry.get("expires") else None
        except (ValueError, KeyError):
            skipped += 1
            continue
        rows[domain] = format_feed_line(ADD, domain, created, expires)
    with open(output, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as out:
        for domain in sorted(rows):
            out.write(rows[domain].encode())
    print(f"{output}: {len(rows)} domains, {skipped} rows skipped", file=sys.stderr)


if __name__ == "__main__":
    main(Path(sys.argv[1]), *(Path(a) for a in sys.argv[2:3]))
