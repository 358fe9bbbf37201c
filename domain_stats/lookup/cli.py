"""The lookup service's commands: ``serve``, ``lookup``, ``import`` and ``doctor``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
import orjson

from domain_stats import __version__
from domain_stats.console import configure_logging, data_option, run_async, user_errors, workers_option
from domain_stats.lookup.config import Settings, load_settings
from domain_stats.lookup.importer import import_file
from domain_stats.names import NameReducer
from domain_stats.storage import open_storage

__all__ = ["COMMANDS", "command_settings"]


def command_settings(data_dir: Path) -> Settings:
    """The data directory's settings, with logging set up as they say (to stderr)."""
    settings = load_settings(data_dir)
    configure_logging(settings.log_detail)
    return settings


@click.command()
@click.argument("data_dir", type=click.Path(file_okay=False, path_type=Path))
@workers_option("Processes answering on the same port (each with its own memory cache).")
@user_errors
def serve(data_dir: Path, workers: int) -> None:
    """Serve lookups over HTTP from DATA_DIR (created with a default configuration on first use)."""
    from domain_stats.listening import check_port_free
    from domain_stats.lookup import supervisor

    settings = command_settings(data_dir)
    check_port_free(settings.local_address, settings.local_port)
    run_async(supervisor.preflight(settings, data_dir))
    host = f"[{settings.local_address}]" if ":" in settings.local_address else settings.local_address
    click.echo(
        f"domain-stats {__version__} listening on http://{host}:{settings.local_port} "
        f"(data: {data_dir}, workers: {workers})",
        err=True,
    )
    try:
        supervisor.serve(settings, data_dir, workers)
    except supervisor.ServeError as err:
        raise click.ClickException(str(err)) from None


@click.command()
@click.argument("names", nargs=-1, required=True)
@data_option
@user_errors
def lookup(names: tuple[str, ...], data_dir: Path) -> None:
    """Look NAMES up with the same rules as the service and print one JSON line each."""
    from domain_stats.lookup.runtime import Runtime

    settings = command_settings(data_dir)

    async def run() -> int:
        runtime = await Runtime.start(settings, data_dir, refresh_bootstrap=False, primary=False)
        status = 0
        try:
            for name in names:
                code, body = await runtime.service.lookup(name)
                click.echo(orjson.dumps({"domain": name, **orjson.loads(body)}).decode())
                status = status or (1 if code != 200 else 0)
        finally:
            await runtime.close()
        return status

    sys.exit(run_async(run()))


@click.command(name="import")
@click.argument("file", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@data_option
@user_errors
def import_(file: Path, data_dir: Path) -> None:
    """Import established domains from FILE: top1m.import JSON, feed lines (+,domain,created,expires),
    CSV domain,created[,expires], or a plain list of names (resolved in the background)."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    settings = command_settings(data_dir)
    names = NameReducer(settings.prohibited_tlds, only_icann=not settings.psl_private)

    async def run() -> Any:
        storage = await open_storage(settings.database_location(data_dir))
        try:
            with Progress(
                TextColumn("importing"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                transient=True,
                console=None,
                disable=not sys.stderr.isatty(),
            ) as bar:
                task = bar.add_task("import", total=None)
                return await import_file(storage, names, file, lambda n: bar.advance(task, n))
        finally:
            await storage.close()

    summary = run_async(run())
    for where, reason in summary.problems:
        click.echo(f"{file}:{where}: skipped: {reason}", err=True)
    if summary.skipped > len(summary.problems):
        click.echo(f"... and {summary.skipped - len(summary.problems)} more skipped rows", err=True)
    if summary.kind == "names":
        click.echo(
            f"a running 'domain-stats serve {data_dir}' resolves queued names in the background, "
            f"{settings.import_resolve_rate:g} a second (import_resolve_rate); progress in /stats",
            err=True,
        )
    click.echo(summary.line())


@click.command()
@data_option
@user_errors
def doctor(data_dir: Path) -> None:
    """Check DATA_DIR before serving: configuration, file modes, port, database, bootstrap, upstreams.

    One line per check; the exit status is 1 when any check fails.
    """
    from domain_stats.lookup.doctor import FAIL, run_checks

    async def run() -> int:
        failed = 0
        async for check in run_checks(data_dir):
            click.echo(check.line())
            failed += check.status == FAIL
        return 1 if failed else 0

    sys.exit(run_async(run()))


COMMANDS = (serve, lookup, import_, doctor)
