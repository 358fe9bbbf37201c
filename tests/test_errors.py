"""One exception root: every public exception domain-stats defines is a DomainStatsError."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import domain_stats
from domain_stats.console import SHOWN_ERRORS
from domain_stats.errors import DomainStatsError, UserError


def public_exceptions() -> list[type[BaseException]]:
    found = []
    for info in pkgutil.walk_packages(domain_stats.__path__, "domain_stats."):
        if info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if (
                inspect.isclass(obj)
                and issubclass(obj, BaseException)
                and obj.__module__ == module.__name__
                and not name.startswith("_")
            ):
                found.append(obj)
    return found


def test_every_public_exception_has_the_one_root() -> None:
    exceptions = public_exceptions()
    assert len(exceptions) >= 20  # the whole tree was found
    assert [cls.__qualname__ for cls in exceptions if not issubclass(cls, DomainStatsError)] == []


@pytest.mark.parametrize(
    "name",
    ["ConfigError", "StorageError", "BootstrapError", "FeedError", "CentralRefused", "BindError", "ImportFileError"],
)
def test_what_users_can_fix_is_a_user_error(name: str) -> None:
    (cls,) = [cls for cls in public_exceptions() if cls.__name__ == name]
    assert issubclass(cls, UserError)


def test_commands_show_user_errors_without_a_traceback() -> None:
    assert UserError in SHOWN_ERRORS
    # Errors handled where they happen (an upstream failure becomes an ERROR answer) are not shown raw.
    assert not issubclass(DomainStatsError, SHOWN_ERRORS)
