"""The settings file is checked whole: every problem is reported in one run, each
with its section and key; a single problem reads as it always did."""

from __future__ import annotations

from pathlib import Path

import pytest

from listguard.config import Settings, SettingsError, load_settings
from listguard.errors import InputError
from tests.test_cli import user_error


def _file(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "cfg.toml"
    path.write_text(body, encoding="utf-8")
    return path


THREE = """
[owner]
nmae = "Exemple"

[notify]
smtp_pasword = "x"

[engine]
memory_mb = "2GB"
"""


def test_every_problem_of_the_file_is_listed_with_its_section_and_key(tmp_path: Path) -> None:
    path = _file(tmp_path, THREE)
    with pytest.raises(SettingsError) as raised:
        load_settings(path)
    assert raised.value.problems == [
        ("owner", "unknown setting(s) nmae"),
        ("notify", "unknown setting(s) smtp_pasword"),
        ("engine", "setting 'memory_mb' must be a whole number, got '2GB'"),
    ]
    assert str(raised.value) == (
        f"{path}: 3 problems in the settings:\n"
        "  [owner] unknown setting(s) nmae\n"
        "  [notify] unknown setting(s) smtp_pasword\n"
        "  [engine] setting 'memory_mb' must be a whole number, got '2GB'"
    )


def test_checks_of_values_run_beside_the_checks_of_types(tmp_path: Path) -> None:
    body = """
        surprise = 1
        [rules]
        retention_years = 5
        bloctel_validity_days = "30"
        bloctel_screening = "sometimes"
        [output]
        csv_delimiter = "x"
        [web]
        trusted_proxies = ["proxy", "10.0.0.0/8", "gateway"]
        [notify]
        smtp_host = "mail.example.fr"
        digest_minutes = 0
    """
    with pytest.raises(SettingsError) as raised:
        load_settings(_file(tmp_path, body))
    assert raised.value.problems == [
        ("", "unknown section(s) surprise"),
        ("rules", "setting 'bloctel_validity_days' must be a whole number, got '30'"),
        ("web", "trusted_proxies: 'proxy' is not an IP address or network"),
        ("web", "trusted_proxies: 'gateway' is not an IP address or network"),
        ("notify", "sender is required to send email (smtp_host is set)"),
        ("notify", "digest_minutes must be at least 1"),
        (
            "rules",
            "retention_years = 5: a setting may only make the rule stricter (between 1 and 3)",
        ),
        ("rules", "bloctel_screening must be 'optional' or 'required', got 'sometimes'"),
        ("output", "csv_delimiter must be one of ; , | or a tab"),
    ]


def test_one_problem_reads_as_before(tmp_path: Path) -> None:
    path = _file(tmp_path, "[rules]\nretention_years = 5\n[engine]\nmemory_mb = 4096\n")
    with pytest.raises(InputError) as raised:
        load_settings(path)
    assert not isinstance(raised.value, SettingsError)
    assert str(raised.value) == (
        f"{path} [rules]: retention_years = 5: a setting may only make the rule stricter "
        "(between 1 and 3)"
    )
    path.write_text("[rule]\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"cfg.toml: unknown section\(s\) rule$"):
        load_settings(path)


def test_a_section_that_is_not_a_table_is_named(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"cfg.toml \[owner\]: must be a table of settings, got 3"):
        load_settings(_file(tmp_path, "owner = 3\n"))


def test_a_good_file_is_read_whole(tmp_path: Path) -> None:
    body = '[owner]\nname = "Exemple"\n[rules]\nretention_years = 2\n[seeds]\nfile = "s.csv"\n'
    settings = load_settings(_file(tmp_path, body))
    assert settings.owner.name == "Exemple"
    assert settings.rules.retention_years == 2
    assert settings.seeds.file == str((tmp_path / "s.csv").resolve())
    assert settings.output == Settings().output


def test_the_command_lists_every_problem_and_exits_1(tmp_path: Path) -> None:
    _file(tmp_path, THREE)
    message = user_error(tmp_path, "--config", "cfg.toml", "collection-form", "--channel", "email")
    assert "3 problems in the settings:" in message
    for line in (
        "[owner] unknown setting(s) nmae",
        "[notify] unknown setting(s) smtp_pasword",
        "[engine] setting 'memory_mb' must be a whole number, got '2GB'",
    ):
        assert f"\n  {line}" in message
