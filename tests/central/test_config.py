from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from domain_stats.central.config import CENTRAL_CONFIG_NAME, CentralSettings, load_central_settings
from domain_stats.errors import ConfigError

README = Path(__file__).resolve().parents[2] / "README.md"


def test_default_file_is_written_and_means_the_defaults(tmp_path: Path) -> None:
    settings = load_central_settings(tmp_path / "c")
    text = (tmp_path / "c" / CENTRAL_CONFIG_NAME).read_text()
    assert settings == CentralSettings()
    assert yaml.safe_load(text) is None
    assert "central server configuration" in text
    for name in CentralSettings.model_fields:
        assert f"# {name}:" in text


def test_every_key_is_documented_in_the_community_section() -> None:
    section = README.read_text().split("## The central server", 1)[1].split("\n## ", 1)[0]
    for name, field in CentralSettings.model_fields.items():
        assert field.description, name
        assert re.search(rf"^\| `{name}` \|", section, re.MULTILINE), f"README's central server section lacks {name}"


@pytest.mark.parametrize(
    ("content", "named"),
    [
        ("tls_cert: a.pem\n", "tls_cert and tls_key go together"),
        ("cached_max_items: 5\n", "cached_max_items: unknown key"),
        ("local_port: 0\n", "local_port"),
    ],
)
def test_bad_configuration_names_the_key(tmp_path: Path, content: str, named: str) -> None:
    (tmp_path / CENTRAL_CONFIG_NAME).write_text(content)
    with pytest.raises(ConfigError, match=re.escape(named)):
        load_central_settings(tmp_path)


def test_the_central_server_reads_the_old_error_ttl_name(tmp_path: Path) -> None:
    (tmp_path / CENTRAL_CONFIG_NAME).write_text("rdap_error_ttl_hours: 3\n")
    assert load_central_settings(tmp_path).registry_error_ttl_hours == 3.0
