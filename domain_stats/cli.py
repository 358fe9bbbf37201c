"""``domain-stats``: the command line, assembled from each server's commands.

This is the one module that sees both servers: the lookup service's commands
(:mod:`domain_stats.lookup.cli`, :mod:`domain_stats.lookup.db_cli`), the log enricher that asks it
(:mod:`domain_stats.enrich.cli`) and the central server's (:mod:`domain_stats.central.cli`). Commands
print user errors as one line (:mod:`domain_stats.console`).
"""

from __future__ import annotations

import click

from domain_stats import __version__
from domain_stats.central.cli import central
from domain_stats.enrich.cli import enrich_command
from domain_stats.lookup.cli import COMMANDS
from domain_stats.lookup.db_cli import db

__all__ = ["main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="domain-stats")
def main() -> None:
    """Domain age and first-contact lookups for your SIEM."""


for command in (*COMMANDS, enrich_command, db, central):
    main.add_command(command)
