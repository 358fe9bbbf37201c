from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from domain_stats.config import default_config_text
from domain_stats.errors import ConfigError
from domain_stats.lookup.config import CONFIG_NAME, Settings, load_settings

README = Path(__file__).resolve().parents[2] / "README.md"


def test_default_file_is_written_and_means_the_defaults(tmp_path: Path) -> None:
    settings = load_settings(tmp_path / "new")
    text = (tmp_path / "new" / CONFIG_NAME).read_text()
    assert settings == Settings()
    assert yaml.safe_load(text) is None  # every line is a comment: defaults stay the program's
    values = re.findall(r"^# ((?:[a-z_]+:.*)|(?:- .*))$", text, re.MULTILINE)
    uncommented = yaml.safe_load("\n".join(values))
    assert Settings(**uncommented) == Settings()
    assert set(uncommented) == set(Settings.model_fields)


def test_every_key_is_documented_in_the_file_and_the_readme() -> None:
    text = default_config_text(Settings)
    readme = README.read_text()
    for name, field in Settings.model_fields.items():
        assert field.description, name
        assert f"# {name}:" in text
        row = re.search(rf"^\| `{name}` \| [^|]* \| (.*) \|$", readme, re.MULTILINE)
        assert row, f"README does not document {name}"
        assert row[1] == field.description, f"README's row for {name} is not the model's description"


def test_a_file_names_only_what_it_changes(tmp_path: Path) -> None:
    (tmp_path / CONFIG_NAME).write_text("local_port: 9999\nprohibited_tlds: [local, .Corp.Example.com.]\n")
    settings = load_settings(tmp_path)
    assert settings.local_port == 9999
    assert settings.prohibited_tlds == ["local", "corp.example.com"]
    assert settings.cached_max_items == Settings().cached_max_items


@pytest.mark.parametrize(
    ("content", "named"),
    [
        ("local_prot: 80\n", "local_prot: unknown key"),
        ("local_port: 99999\n", "local_port"),
        ("mode: whois\n", "mode"),
        ("local_address: my-host\n", "local_address"),
        ("established_days_age: -1\n", "established_days_age"),
        ("- a\n- b\n", "key: value"),
        ("local_port: [\n", "not valid YAML"),
    ],
)
def test_bad_configuration_names_the_key(tmp_path: Path, content: str, named: str) -> None:
    (tmp_path / CONFIG_NAME).write_text(content)
    with pytest.raises(ConfigError, match=re.escape(named)):
        load_settings(tmp_path)


def test_loopback_detection() -> None:
    assert Settings().is_loopback
    assert Settings(local_address="::1").is_loopback
    assert not Settings(local_address="0.0.0.0").is_loopback


def test_mode_central_needs_a_server_and_a_key(tmp_path: Path) -> None:
    (tmp_path / CONFIG_NAME).write_text("mode: central\nserver_url: https://community.example.org:4100/\n")
    with pytest.raises(ConfigError, match="mode central needs api_key"):
        load_settings(tmp_path)
    (tmp_path / CONFIG_NAME).write_text("mode: central\nserver_url: community.example.org\napi_key: k\n")
    with pytest.raises(ConfigError, match=r"server_url: .*http"):
        load_settings(tmp_path)
    (tmp_path / CONFIG_NAME).write_text(
        "mode: central\nserver_url: https://community.example.org:4100/\napi_key: s3cret-Key\nadmin_key: adm1n-Key\n"
    )
    settings = load_settings(tmp_path)
    assert settings.server_url == "https://community.example.org:4100"
    assert settings.api_key == "s3cret-Key"
    assert "s3cret" not in repr(settings) and "adm1n" not in repr(settings)  # secrets stay out of reprs and logs


def test_the_original_names_for_the_central_server_still_work(tmp_path: Path) -> None:
    """``mode: isc`` and ``isc_fallback_rdap`` (the original tool's words) read as ``central``."""
    (tmp_path / CONFIG_NAME).write_text(
        "mode: isc\nserver_url: https://c.example.org\napi_key: k\nisc_fallback_rdap: true\n"
    )
    settings = load_settings(tmp_path)
    assert settings.mode == "central"
    assert settings.central_fallback_registry is True
    (tmp_path / CONFIG_NAME).write_text("mode: isc\n")
    with pytest.raises(ConfigError, match="mode central needs server_url and api_key"):
        load_settings(tmp_path)


@pytest.mark.parametrize(
    ("old", "new"),
    [("rdap_error_ttl_hours", "registry_error_ttl_hours"), ("central_fallback_rdap", "central_fallback_registry")],
)
def test_earlier_names_of_renamed_settings_are_read(tmp_path: Path, old: str, new: str) -> None:
    """Settings renamed for what they govern (WHOIS too) keep working under their old names."""
    value = "7" if new.endswith("hours") else "true"
    (tmp_path / CONFIG_NAME).write_text(f"{old}: {value}\n")
    assert getattr(load_settings(tmp_path), new) == (7.0 if value == "7" else True)
    (tmp_path / CONFIG_NAME).write_text(f"{old}: {value}\n{new}: {value}\n")
    with pytest.raises(ConfigError, match=f"{old} is the old name of {new}"):
        load_settings(tmp_path)
