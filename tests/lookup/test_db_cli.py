"""``domain-stats db migrate`` and ``db copy`` as an operator runs them."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from domain_stats.cli import main
from tests.support.services import write_config


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_migrate_creates_the_schema_on_either_backend(tmp_path: Path, database_url: str) -> None:
    data = tmp_path / "data"
    write_config(data, database_url=database_url)
    code, out, err = run("db", "migrate", "--data", str(data))
    assert code == 0, err
    assert out.strip().endswith("schema up to date; established-domain data at version 1.0")
    assert ("PostgreSQL" in out) == bool(database_url)
    assert run("db", "migrate", "--data", str(data))[0] == 0  # again: nothing to do, no error


def test_copy_between_files_from_the_command_line(tmp_path: Path) -> None:
    source = tmp_path / "source"
    write_config(source)
    (tmp_path / "list.csv").write_text("copied.com,2001-01-01 00:00:00\nalso.org,2002-02-02 00:00:00\n")
    assert run("import", str(tmp_path / "list.csv"), "--data", str(source))[0] == 0
    code, out, _ = run(
        "db", "copy", "--from", f"sqlite://{source / 'domain_stats.db'}", "--to", f"sqlite://{tmp_path / 'new.db'}"
    )
    assert code == 0
    assert "domains: 2" in out and "contacts: 0" in out
    code, _, err = run(
        "db", "copy", "--from", f"sqlite://{tmp_path / 'missing.db'}", "--to", f"sqlite://{tmp_path / 'x.db'}"
    )
    assert code == 1 and "does not exist" in err and "Traceback" not in err
    bad = tmp_path / "bad"
    write_config(bad, database_url="mysql://nope")
    code, _, err = run("db", "migrate", "--data", str(bad))
    assert code == 1 and "database_url: Value error, must be a postgresql:// URL" in err
