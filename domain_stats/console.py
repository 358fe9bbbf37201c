"""How every command talks to its user: one event loop per command, user errors as one line.

User errors (bad configuration, busy port, unreadable file, a refused value) print one clear
line and exit non-zero; tracebacks are for bugs only.
"""

from __future__ import annotations

import asyncio
import functools
import logging.config
from pathlib import Path
from typing import Any, Awaitable, Callable, TypeVar

import click

from domain_stats.central.protocol import CommunityRefused
from domain_stats.config import ConfigError, Settings, load_settings
from domain_stats.feed.format import FeedError
from domain_stats.importer import ImportFileError
from domain_stats.logs import log_config
from domain_stats.rdap.bootstrap import BootstrapError
from domain_stats.storage import StorageError

__all__ = ["command_settings", "data_dir_option", "data_option", "run_async", "user_errors", "USER_ERRORS"]

T = TypeVar("T")
USER_ERRORS: tuple[type[Exception], ...] = (
    ConfigError, StorageError, BootstrapError, ImportFileError, CommunityRefused, FeedError, OSError,
)


def data_dir_option(*, required: bool = False, help: str = "Data directory (configuration, database, saved cache).") -> Any:
    """``--data DIR`` as every command takes it (default ``./data`` unless ``required``)."""
    default: dict[str, Any] = {"required": True} if required else {"default": Path("data"), "show_default": True}
    return click.option("--data", "data_dir", type=click.Path(file_okay=False, path_type=Path), help=help, **default)


data_option = data_dir_option()


def command_settings(data_dir: Path) -> Settings:
    """The data directory's settings, with logging set up as they say (to stderr)."""
    settings = load_settings(data_dir)
    logging.config.dictConfig(log_config(settings.log_detail))
    return settings


def run_async(coro: Awaitable[T]) -> T:
    try:
        import uvloop

        loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = uvloop.new_event_loop
    except ImportError:  # pragma: no cover - uvloop is optional on some platforms
        loop_factory = None
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        return runner.run(coro)  # type: ignore[arg-type]


def user_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except USER_ERRORS as err:
            raise click.ClickException(str(err)) from None

    return wrapper
