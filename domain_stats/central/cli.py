"""``domain-stats central ...``: run the central server and administer it.

Every admin command opens the server's database directly (``--data DIR``), so it works
whether or not the server runs, and a running server sees the change with its next request.
"""

from __future__ import annotations

import logging.config
import re
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from domain_stats import __version__
from domain_stats.central.config import CENTRAL_CONFIG_NAME, CentralSettings, load_central_settings
from domain_stats.central.keys import new_api_key
from domain_stats.central.policy import POLICY_KEYS, Policy, PolicyError, parse_policy_value
from domain_stats.central.store import CentralStore, open_central_store
from domain_stats.central_protocol import MAX_OPERATOR_ALERTS, operator_alert_problem
from domain_stats.console import data_dir_option, run_async, user_errors, workers_option
from domain_stats.dates import format_date
from domain_stats.logs import log_config
from domain_stats.names import DEFAULT_PROHIBITED, InvalidName, NameReducer
from domain_stats.private_files import warn_if_readable_by_others

__all__ = ["central"]

T = TypeVar("T")

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")

data_option = data_dir_option(required=True, help="The central server's data directory.")


def _settings(data_dir: Path) -> CentralSettings:
    settings = load_central_settings(data_dir)
    logging.config.dictConfig(log_config(settings.log_detail))
    return settings


def _with_store(data_dir: Path, work: Callable[[CentralStore], Awaitable[T]]) -> T:
    settings = _settings(data_dir)

    async def run() -> T:
        store = await open_central_store(settings, data_dir)
        try:
            return await work(store)
        finally:
            await store.close()

    return run_async(run())


def _client_name(name: str) -> str:
    if not _NAME.match(name):
        raise click.BadParameter(
            "letters, digits and . _ @ - (at most 64, starting with a letter or digit)", param_hint="NAME"
        )
    return name


def _domain(raw: str) -> str:
    try:
        domain = NameReducer(DEFAULT_PROHIBITED).reduce(raw).domain
    except InvalidName as err:
        raise click.BadParameter(str(err), param_hint="DOMAIN") from None
    if domain is None:
        raise click.BadParameter(
            f"{raw!r} is under a prohibited suffix; clients never ask about it", param_hint="DOMAIN"
        )
    return domain


def _when(stamp: int | None) -> str:
    return "-" if stamp is None else format_date(stamp)


@click.group()
def central() -> None:
    """The central server: serve it, and manage its keys, alerts, policy and clients."""


@central.command()
@click.argument("data_dir", type=click.Path(file_okay=False, path_type=Path))
@workers_option("Processes answering on the same port (one per core for a busy server); first contacts stay once.")
@user_errors
def serve(data_dir: Path, workers: int) -> None:
    """Serve the central server from DATA_DIR (created with a default central.yaml on first use)."""
    from domain_stats.central.asgi import run_central
    from domain_stats.central.runtime import CentralRuntime
    from domain_stats.listening import check_port_free

    settings = _settings(data_dir)
    check_port_free(settings.local_address, settings.local_port)
    tls = None
    if settings.tls_cert:
        tls = (settings.data_path(data_dir, settings.tls_cert), settings.data_path(data_dir, settings.tls_key))
        for path in tls:
            path.read_bytes()  # unreadable: one clear line now, not a worker's traceback

    private = settings.private_paths(data_dir, CENTRAL_CONFIG_NAME)
    warn_if_readable_by_others([*private, *(tls[1:] if tls else ())])

    async def preflight() -> None:
        runtime = await CentralRuntime.start(settings, data_dir, refresh_bootstrap=False)
        await runtime.close()

    run_async(preflight())
    scheme = "https" if tls else "http"
    host = f"[{settings.local_address}]" if ":" in settings.local_address else settings.local_address
    click.echo(
        f"domain-stats central {__version__} listening on {scheme}://{host}:{settings.local_port} "
        f"(data: {data_dir}, workers: {workers})",
        err=True,
    )
    run_central(settings, data_dir, tls=tls, workers=workers)


# ---- keys ----


@central.group()
def key() -> None:
    """API keys of the client organisations."""


@key.command(name="add")
@click.argument("name")
@data_option
@user_errors
def key_add(name: str, data_dir: Path) -> None:
    """Create NAME's API key; the key is printed once, alone on the last line (only its hash is stored)."""
    name = _client_name(name)
    new_key, key_hash = new_api_key()
    if not _with_store(data_dir, lambda store: store.add_key(name, key_hash, time.time())):
        raise click.ClickException(f"{name} already has a key; revoke it first to issue a new one")
    click.echo(f"API key for {name} (shown only now; put it in the client's domain_stats.yaml as api_key):")
    click.echo(new_key)


@key.command(name="list")
@data_option
@user_errors
def key_list(data_dir: Path) -> None:
    """Every key's client name, when it was created, and whether it is revoked."""
    rows = _with_store(data_dir, lambda store: store.list_keys())
    _table(["name", "created", "revoked"], [[r.name, _when(r.created), _when(r.revoked)] for r in rows])


@key.command(name="revoke")
@click.argument("name")
@data_option
@user_errors
def key_revoke(name: str, data_dir: Path) -> None:
    """Revoke NAME's key: refused (401) from the server's next request on."""
    if not _with_store(data_dir, lambda store: store.revoke_key(name, time.time())):
        raise click.ClickException(f"{name} has no active key")
    click.echo(f"revoked the key of {name}")


# ---- alerts ----


@central.group()
def alert() -> None:
    """Alerts attached to domains, sent to every client that asks about them."""


@alert.command(name="add")
@click.argument("domain")
@click.argument("text")
@data_option
@user_errors
def alert_add(domain: str, text: str, data_dir: Path) -> None:
    """Attach TEXT to DOMAIN's registered domain (clients cache such answers 24 h, not in their database)."""
    domain = _domain(domain)
    text = text.strip()
    problem = operator_alert_problem(text)
    if problem is not None:
        raise click.BadParameter(problem, param_hint="TEXT")

    async def add(store: CentralStore) -> bool:
        if sum(row.domain == domain for row in await store.list_alerts()) >= MAX_OPERATOR_ALERTS:
            raise click.BadParameter(f"{domain} already has {MAX_OPERATOR_ALERTS} alerts (the most one domain carries)")
        return await store.add_alert(domain, text, time.time())

    added = _with_store(data_dir, add)
    click.echo(f"{'added' if added else 'already there'}: {domain}: {text}")


@alert.command(name="clear")
@click.argument("domain")
@click.argument("text", required=False)
@data_option
@user_errors
def alert_clear(domain: str, text: str | None, data_dir: Path) -> None:
    """Remove TEXT (or every alert) from DOMAIN."""
    domain = _domain(domain)
    removed = _with_store(data_dir, lambda store: store.clear_alerts(domain, text))
    click.echo(f"removed {removed} alert{'s' if removed != 1 else ''} from {domain}")


@alert.command(name="list")
@data_option
@user_errors
def alert_list(data_dir: Path) -> None:
    rows = _with_store(data_dir, lambda store: store.list_alerts())
    _table(["domain", "alert", "added"], [[r.domain, r.text, _when(r.added)] for r in rows])


# ---- policy, denials, clients ----


@central.group(name="config")
def config_group() -> None:
    """What clients are told: minimum versions, status interval, prohibited suffixes."""


@config_group.command(name="set")
@click.argument("name", type=click.Choice(POLICY_KEYS))
@click.argument("values", nargs=-1)
@data_option
@user_errors
def config_set(name: str, values: tuple[str, ...], data_dir: Path) -> None:
    """Set NAME (prohibited_tlds takes any number of suffixes; none clears the list)."""
    try:
        value = parse_policy_value(name, values)
    except PolicyError as err:
        raise click.ClickException(str(err)) from None
    _with_store(data_dir, lambda store: store.set_policy_value(name, value))
    click.echo(f"{name} = {value}")


@config_group.command(name="show")
@data_option
@user_errors
def config_show(data_dir: Path) -> None:
    policy = Policy.from_stored(_with_store(data_dir, lambda store: store.policy_values()))
    for name in POLICY_KEYS:
        value = getattr(policy, name)
        click.echo(f"{name}: {' '.join(value) if isinstance(value, tuple) else value}")


@central.command()
@click.argument("name")
@click.argument("message")
@data_option
@user_errors
def deny(name: str, message: str, data_dir: Path) -> None:
    """Tell NAME's clients to stop, with MESSAGE, at their next status report."""
    name = _client_name(name)
    if not message.strip():
        raise click.BadParameter("a message the client's operators will read", param_hint="MESSAGE")
    _with_store(data_dir, lambda store: store.deny(name, message.strip()))
    click.echo(f"{name} will be stopped at its next status report")


@central.command()
@click.argument("name")
@data_option
@user_errors
def allow(name: str, data_dir: Path) -> None:
    """Lift a denial."""
    if not _with_store(data_dir, lambda store: store.allow(name)):
        raise click.ClickException(f"{name} is not denied")
    click.echo(f"{name} may run again")


@central.command()
@data_option
@user_errors
def clients(data_dir: Path) -> None:
    """What every client reported last: versions, cache and database efficiency, when."""
    rows = _with_store(data_dir, lambda store: store.clients())
    _table(
        ["name", "version", "database", "cache hit/miss/expired", "db hit/miss", "address", "last seen"],
        [
            [
                r.name,
                r.client_version,
                r.database_version,
                f"{r.cache_hits}/{r.cache_misses}/{r.cache_expired}",
                f"{r.database_hits}/{r.database_misses}",
                r.address,
                _when(r.last_seen),
            ]
            for r in rows
        ],
    )


@central.command()
@click.option(
    "--min-clients",
    type=click.IntRange(1),
    default=2,
    show_default=True,
    help="Publish only domains at least this many members asked about.",
)
@click.option(
    "--established-days",
    type=click.IntRange(0),
    default=730,
    show_default=True,
    help="Publish only domains registered at least this many days ago.",
)
@data_option
@user_errors
def publish(min_clients: int, established_days: int, data_dir: Path) -> None:
    """Add a version to the feed the server serves (DIR/feed): established domains members asked about."""
    from domain_stats.central.runtime import feed_directory
    from domain_stats.feed import export_feed

    before = time.time() - established_days * 86400
    feed_dir = feed_directory(data_dir)
    report = _with_store(
        data_dir,
        lambda store: export_feed(
            lambda after, limit: store.published_page(after, limit, before, min_clients), feed_dir
        ),
    )
    click.echo(report.summary(feed_dir))


def _table(headers: list[str], rows: list[list[Any]]) -> None:
    """A plain aligned table on stdout (greppable; rich would wrap it on narrow terminals)."""
    if not rows:
        click.echo("(none)", err=sys.stdout.isatty())
        return
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=True)]
    for line in [headers, *rows]:
        click.echo("  ".join(str(cell).ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())
