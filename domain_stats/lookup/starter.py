"""The packaged starter set: about 37,000 established domains imported into every new database.

It makes common domains answer locally from the first minute (see ``scripts/build_starter_data.py``
for how it is built). Importing it records no contact and does not change the database version.
"""

from __future__ import annotations

import gzip
import io
import logging
from collections.abc import Iterator
from pathlib import Path

from domain_stats.dates import parse_plain_date
from domain_stats.names import NameReducer
from domain_stats.storage import ADD_IF_ABSENT, ChangeRow, Storage

__all__ = ["STARTER_FILE", "STARTER_MARK", "load_starter_data"]

log = logging.getLogger(__name__)

STARTER_FILE = Path(__file__).resolve().parents[1] / "data" / "starter-domains.txt.gz"
STARTER_MARK = "starter-data"


async def load_starter_data(storage: Storage, names: NameReducer, path: Path = STARTER_FILE) -> int | None:
    """Import the packaged starter set once per database; returns how many were added (None: done before).

    Rows are only added where the database knows nothing yet, and the database version stays
    where it is: the starter set is not a feed version.
    """
    if await storage.has_mark(STARTER_MARK):
        return None

    def changes() -> Iterator[ChangeRow]:
        with gzip.open(path, "rb") as raw, io.TextIOWrapper(raw, encoding="utf-8") as lines:
            for line in lines:  # our own file: "+,domain,created,expires", checked when it was built
                _, domain, created, expires = line.rstrip("\n").split(",")
                if names.is_registered_domain(domain):  # not, e.g., under a suffix prohibited here
                    yield (
                        domain,
                        ADD_IF_ABSENT,
                        int(parse_plain_date(created) or 0),
                        int(parse_plain_date(expires) or 0) if expires else None,
                    )

    counts = await storage.apply_changes(changes, mark=STARTER_MARK)
    if counts.added:
        log.info("imported %d starter domains into a new database", counts.added)
    else:  # another instance on the same database imported it a moment before
        log.debug("the starter set was already imported into this database")
    return counts.added
