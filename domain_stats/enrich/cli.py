"""``domain-stats enrich``: DNS, TLS or proxy logs in, the same events with ``domain_stats`` out."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

import click

from domain_stats.console import run_async, user_errors
from domain_stats.enrich.answers import AnswerSource, DataDirAnswers, ServiceAnswers
from domain_stats.enrich.formats import Format, line_reader
from domain_stats.enrich.malloc_tuning import keep_freed_memory
from domain_stats.enrich.pipeline import MAX_REPORTED, Selection, Summary, enrich
from domain_stats.enrich.reading import LineSource
from domain_stats.private_files import create_private

__all__ = ["DEFAULT_URL", "enrich_command"]

#: The service enrich asks unless told otherwise (also ``DOMAIN_STATS_URL``, as the Splunk lookup).
DEFAULT_URL = "http://127.0.0.1:8000"


def _tokens(value: str | None) -> frozenset[str]:
    return frozenset(token.strip() for token in (value or "").split(",") if token.strip())


@click.command(name="enrich")
@click.argument("file", default="-")
@click.option(
    "--format",
    "kind",
    type=click.Choice([f.value for f in Format]),
    help="The log's format; told from its first line when not given.",
)
@click.option("--field", help="JSON lines: where the name is (a dotted path, e.g. dns.rrname).")
@click.option("--column", help="CSV: the header of the column with the names.")
@click.option("--alerts", help="Write only records whose answer has one of these alerts (comma-separated).")
@click.option("--category", help="Write only records whose answer has one of these categories (e.g. NEW).")
@click.option("-F", "--follow", is_flag=True, help="Keep reading a growing log, across rotation and truncation.")
@click.option("--from-end", is_flag=True, help="With --follow: begin at the end of the file, like tail -F.")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write here instead of stdout (appended to with --follow; a new file is created 0600).",
)
@click.option(
    "--url",
    envvar="DOMAIN_STATS_URL",
    default=DEFAULT_URL,
    show_default=True,
    help="The running service to ask (POST /batch); also DOMAIN_STATS_URL.",
)
@click.option(
    "--jobs",
    type=click.IntRange(min=0, max=64),
    default=0,
    help="Processes that read the log (0: one per core for a file; 1 for plain names and with --follow).",
)
@click.option(
    "--data",
    "data_dir",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="No service running: open this data directory here instead (as 'lookup' does).",
)
@user_errors
def enrich_command(
    file: str,
    kind: str | None,
    field: str | None,
    column: str | None,
    alerts: str | None,
    category: str | None,
    follow: bool,
    from_end: bool,
    output: Path | None,
    url: str,
    jobs: int,
    data_dir: Path | None,
) -> None:
    """Add a domain_stats object to each event of FILE (- is stdin; gzip is read as it is).

    Zeek dns/ssl/http logs (TSV or JSON), Suricata eve.json, JSON lines (--field), CSV
    (--column) or plain names; JSON lines out. "What is new":
    --alerts YOUR-FIRST-CONTACT,ISC-FIRST-CONTACT,RE-REGISTERED --category NEW
    """
    if file != "-" and not Path(file).is_file():
        raise click.BadParameter(f"{file} is not a file", param_hint="FILE")
    if kind:
        line_reader(Format(kind), field=field, column=column)  # a format without the option it needs
    selection = Selection(_tokens(alerts), _tokens(category))
    source = LineSource(file, follow=follow, from_end=from_end)
    if source.follow:  # a followed log is read as it grows: one process keeps up and answers at once
        jobs = 1
    keep_freed_memory()

    async def run() -> Summary:
        answers: AnswerSource = (
            await DataDirAnswers.open(data_dir) if data_dir else ServiceAnswers(url, keep_trying=source.follow)
        )
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, source.stop)
        try:
            with _output(output, append=source.follow) as out, _progress(source, follow=source.follow) as advance:
                return await enrich(
                    source,
                    answers,
                    out,
                    kind=Format(kind) if kind else None,
                    field=field,
                    column=column,
                    jobs=jobs,
                    selection=selection,
                    on_bad=lambda report: click.echo(str(report), err=True),
                    on_block=advance,
                    flush=source.follow,
                )
        finally:
            await answers.close()

    summary = run_async(run())
    if summary.bad > MAX_REPORTED:
        click.echo(f"... and {summary.bad - MAX_REPORTED:,} more bad lines", err=True)
    click.echo(summary.line(), err=True)


@contextlib.contextmanager
def _output(path: Path | None, *, append: bool) -> Iterator[BinaryIO]:
    if path is None:
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    create_private(path)  # a new output file is the owner's alone: it is DNS history
    with open(path, "ab" if append else "wb") as out:
        yield out


@contextlib.contextmanager
def _progress(source: LineSource, *, follow: bool) -> Iterator[Callable[[Summary], None]]:
    """A bar with rate and ETA on a terminal, for a file of known size; nothing otherwise."""
    if follow or source.path == "-" or not sys.stderr.isatty():
        yield lambda summary: None
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(
        TextColumn("enriching"),
        BarColumn(),
        TextColumn("{task.fields[lines]:,} lines, {task.fields[rate]:,.0f} lines/s"),
        TimeRemainingColumn(),
        console=None,
        transient=True,
    ) as bar:
        task = bar.add_task("enrich", total=source.total_bytes, lines=0, rate=0.0)

        def advance(summary: Summary) -> None:
            rate = summary.rate()
            bar.update(task, completed=source.bytes_read, total=source.total_bytes, lines=summary.lines, rate=rate)

        yield advance
