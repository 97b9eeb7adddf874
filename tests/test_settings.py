"""Settings: the one table read by `Settings.load`, the worker processes' environment, the command line
and the README."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from fraudhawk.cli.main import main
from fraudhawk.errors import ConfigurationError
from fraudhawk.settings import TABLE, Settings, markdown_table

README = Path(__file__).resolve().parents[1] / "README.md"


def test_the_readme_shows_the_table_of_settings() -> None:
    """The README's configuration table is `fraudhawk settings --markdown`: run it after changing TABLE."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Configuration\n") :]
    start = section.index("| setting |")
    shown = section[start : section.index("\n\n", start) + 1]
    assert shown == markdown_table()
    assert CliRunner().invoke(main, ["settings", "--markdown"]).output == markdown_table()


def test_every_variable_is_read(tmp_path: Path) -> None:
    environ = {
        "FRAUDHAWK_DATA_DIR": str(tmp_path / "data"),
        "FRAUDHAWK_DATABASE_URL": "postgresql+psycopg://user:pw@db.example/afd",
        "FRAUDHAWK_ACCESS_KEYS": "A:1, B:2",
        "FRAUDHAWK_ACCOUNT_ID": "000011112222",
        "FRAUDHAWK_REGION": "eu-west-3",
        "FRAUDHAWK_MAX_BODY_BYTES": "1024",
        "FRAUDHAWK_S3_ROOT": str(tmp_path / "s3"),
        "FRAUDHAWK_ALLOWED_ROOTS": f"{tmp_path / 'in'}:{tmp_path / 'out'}",
        "FRAUDHAWK_EXTERNAL_MODEL_URL": "https://models.example/{endpoint}",
        "FRAUDHAWK_EXTERNAL_MODEL_TIMEOUT": "0.5",
        "FRAUDHAWK_PREDICTION_RETENTION_DAYS": "7",
        "FRAUDHAWK_CSV_MAX_RECORD_BYTES": "4096",
        "FRAUDHAWK_REQUEST_READ_TIMEOUT": "2.5",
        "FRAUDHAWK_KEEP_ALIVE_TIMEOUT": "1",
        "FRAUDHAWK_MAX_IDLE_CONNECTIONS": "10",
        "FRAUDHAWK_PIPELINE_SCAN_INTERVAL": "0.5",
    }
    assert set(environ) == {setting.variable for setting in TABLE}
    settings = Settings.load(environ=environ)
    assert settings == Settings(
        data_dir=tmp_path / "data",
        database_url="postgresql+psycopg://user:pw@db.example/afd",
        account_id="000011112222",
        region="eu-west-3",
        access_keys={"A": "1", "B": "2"},
        max_body_bytes=1024,
        s3_root=tmp_path / "s3",
        allowed_roots=(tmp_path / "in", tmp_path / "out", tmp_path / "s3", tmp_path / "data" / "files"),
        external_model_url="https://models.example/{endpoint}",
        external_model_timeout_s=0.5,
        prediction_retention_days=7,
        csv_max_record_bytes=4096,
        request_read_timeout_s=2.5,
        keep_alive_timeout_s=1.0,
        max_idle_connections=10,
        pipeline_scan_s=0.5,
    )
    # the worker processes of a multi-process server rebuild the same settings from their environment
    assert Settings.load(environ=settings.environment()) == settings


def test_arguments_win_and_defaults_fill_in(tmp_path: Path) -> None:
    environ = {"FRAUDHAWK_DATA_DIR": str(tmp_path / "env"), "FRAUDHAWK_S3_ROOT": ""}
    settings = Settings.load(data_dir=tmp_path / "arg", environ=environ, allowed_roots=(tmp_path / "extra",))
    assert settings.data_dir == tmp_path / "arg"
    assert settings.database_url == f"sqlite:///{tmp_path / 'arg' / 'fraudhawk.db'}"
    # an empty variable is an unset one: s3:// URLs are files in the data directory
    assert settings.s3_root == tmp_path / "arg" / "s3"
    assert settings.allowed_roots == (tmp_path / "extra", tmp_path / "arg" / "s3", tmp_path / "arg" / "files")
    assert Settings.load(environ=settings.environment()) == settings
    remote = Settings.load(data_dir=tmp_path / "arg", environ={"FRAUDHAWK_S3_ROOT": "remote"})
    assert remote.s3_root is None  # a real S3-compatible store
    assert remote.allowed_roots == (tmp_path / "arg" / "files",)
    assert Settings.load(environ=remote.environment()) == remote
    defaults = {setting.name: setting.default for setting in TABLE if setting.default is not None}
    for name in ("account_id", "region", "max_body_bytes", "external_model_url", "prediction_retention_days"):
        assert getattr(settings, name) == defaults[name]
    assert settings.access_keys == {}
    assert settings.external_model_timeout_s == 2.0


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("FRAUDHAWK_DATABASE_URL", "mysql://db", "must be a sqlite:/// or postgresql+psycopg:// URL"),
        ("FRAUDHAWK_ACCESS_KEYS", "justakey", "expected KEYID:secret"),
        ("FRAUDHAWK_ACCOUNT_ID", "12345", "must be 12 digits"),
        ("FRAUDHAWK_REGION", "US_EAST", "must match [a-z0-9-]{3,20}"),
        ("FRAUDHAWK_MAX_BODY_BYTES", "lots", "must be a whole number from 1 to"),
        ("FRAUDHAWK_EXTERNAL_MODEL_URL", "http://models.example/x", "must be an http(s) URL holding {endpoint}"),
        ("FRAUDHAWK_EXTERNAL_MODEL_TIMEOUT", "61", "must be a number from 0.01 to 60, got '61'"),
        ("FRAUDHAWK_PREDICTION_RETENTION_DAYS", "1.5", "must be a whole number from 1 to 36500, got '1.5'"),
    ],
)
def test_refusals_name_the_variable(tmp_path: Path, variable: str, value: str, message: str) -> None:
    with pytest.raises(ConfigurationError) as refused:
        Settings.load(data_dir=tmp_path, environ={variable: value})
    assert refused.value.message.startswith(variable)
    assert message in refused.value.message


def test_settings_command_shows_values_with_secrets_hidden(tmp_path: Path) -> None:
    environ = {
        "FRAUDHAWK_ACCESS_KEYS": "AKID:topsecret",
        "FRAUDHAWK_DATABASE_URL": "postgresql+psycopg://user:hunter2@db.example/afd",
    }
    result = CliRunner().invoke(main, ["settings", "--data-dir", str(tmp_path)], env=environ)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert [line.partition("=")[0] for line in lines] == [setting.variable for setting in TABLE]
    assert f"FRAUDHAWK_DATA_DIR={tmp_path}" in lines
    assert "FRAUDHAWK_ACCESS_KEYS=AKID:***" in lines
    assert "FRAUDHAWK_DATABASE_URL=postgresql+psycopg://user:***@db.example/afd" in lines
    assert "topsecret" not in result.output
    assert "hunter2" not in result.output
    refused = CliRunner().invoke(main, ["settings"], env={"FRAUDHAWK_REGION": "?"})
    assert refused.exit_code == 2
    assert "FRAUDHAWK_REGION must match" in refused.output
