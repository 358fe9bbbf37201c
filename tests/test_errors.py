"""One exception root: every public exception domain-stats defines is a DomainStatsError."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest

import domain_stats
from domain_stats.console import SHOWN_ERRORS
from domain_stats.errors import DomainStatsError, RuntimeFailure, UserError
from tests.support.services import cli_process


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
    ["ConfigError", "BootstrapError", "FeedError", "CentralRefused", "BindError", "ImportFileError"],
)
def test_what_users_can_fix_is_a_user_error(name: str) -> None:
    (cls,) = [cls for cls in public_exceptions() if cls.__name__ == name]
    assert issubclass(cls, UserError)


def test_a_database_failure_is_a_runtime_failure_not_the_users_mistake() -> None:
    (cls,) = [cls for cls in public_exceptions() if cls.__name__ == "StorageError"]
    assert issubclass(cls, RuntimeFailure) and not issubclass(cls, UserError)
    assert RuntimeFailure in SHOWN_ERRORS  # a command still shows it as one line


@pytest.mark.parametrize(
    ("command", "says"),
    [
        ("db update --from /nonexistent/feed --data {data}", "neither an http(s) URL nor a directory"),  # FeedError
        ("lookup example.com --data {bad}", "local_port: "),  # ConfigError
        ("central config set status_interval soon --data {central}", "is not a number of minutes"),  # PolicyError
    ],
)
async def test_a_user_error_is_one_line_without_a_traceback(tmp_path: Path, command: str, says: str) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "domain_stats.yaml").write_text("local_port: not-a-port\n")
    code, _, err = await cli_process(*command.format(data=tmp_path / "data", bad=bad, central=tmp_path / "c").split())
    assert code == 1 and says in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_errors_handled_where_they_happen_are_not_shown_raw() -> None:
    """An upstream failure becomes an ERROR answer, a bad name a 400: only the UserError branch is shown."""
    assert UserError in SHOWN_ERRORS and not issubclass(DomainStatsError, SHOWN_ERRORS)
