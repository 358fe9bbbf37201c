"""How every command talks to its user: one event loop per command, user errors as one line.

A :class:`~domain_stats.errors.UserError` (bad configuration, busy port, unreadable feed, a
refused value), a :class:`~domain_stats.errors.RuntimeFailure` (the database is down) and the
operating system's own complaint about a file (``OSError``) print one
clear line and exit non-zero; tracebacks are for bugs only.
"""

from __future__ import annotations

import asyncio
import functools
import logging.config
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import click

from domain_stats.errors import RuntimeFailure, UserError
from domain_stats.logs import log_config

__all__ = [
    "SHOWN_ERRORS",
    "configure_logging",
    "data_dir_option",
    "data_option",
    "run_async",
    "user_errors",
    "workers_option",
]

T = TypeVar("T")
P = ParamSpec("P")

#: What a command shows as its message alone, without a traceback.
SHOWN_ERRORS: tuple[type[Exception], ...] = (UserError, RuntimeFailure, OSError)


def data_dir_option(
    *, required: bool = False, help: str = "Data directory (configuration, database, saved cache)."
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``--data DIR`` as every command takes it (default ``./data`` unless ``required``)."""
    default: dict[str, Any] = {"required": True} if required else {"default": Path("data"), "show_default": True}
    return click.option("--data", "data_dir", type=click.Path(file_okay=False, path_type=Path), help=help, **default)


data_option = data_dir_option()


def workers_option(help: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``--workers N`` as both servers take it: processes answering on the same port."""
    return click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True, help=help)


def configure_logging(log_detail: int) -> None:
    """Log to stderr at the configured detail (``log_detail``)."""
    logging.config.dictConfig(log_config(log_detail))


def run_async(coro: Coroutine[Any, Any, T] | Awaitable[T]) -> T:
    try:
        import uvloop

        loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = uvloop.new_event_loop
    except ImportError:  # pragma: no cover - uvloop is optional on some platforms
        loop_factory = None
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        return runner.run(coro)  # type: ignore[arg-type]


def user_errors(func: Callable[P, T]) -> Callable[P, T]:
    """Show :data:`SHOWN_ERRORS` as the command's one-line message."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return func(*args, **kwargs)
        except SHOWN_ERRORS as err:
            raise click.ClickException(str(err)) from None

    return wrapper
