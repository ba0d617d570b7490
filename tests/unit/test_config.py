"""Settings: parsing, errors, and that every setting is documented."""

import re
from dataclasses import fields
from pathlib import Path

import pytest

from salesboard.config import Settings, load_settings
from salesboard.errors import ConfigError

DOC = Path(__file__).parents[2] / "docs" / "configuration.md"


def test_defaults_and_env_override(tmp_path):
    s = load_settings({"SALESBOARD_CONFIG": str(tmp_path / "none.toml")})
    assert s.db == Path("data/dashboard.duckdb") and s.port == 8501 and s.allow_registration is True
    s = load_settings({"SALESBOARD_DB": "/x/y.duckdb", "SALESBOARD_ALLOW_REGISTRATION": "off",
                       "SALESBOARD_PORT": "9000", "SALESBOARD_CONFIG": str(tmp_path / "none.toml")})
    assert s.db == Path("/x/y.duckdb") and s.allow_registration is False and s.port == 9000


def test_toml_file_then_env_wins(tmp_path):
    cfg = tmp_path / "salesboard.toml"
    cfg.write_text('[salesboard]\nport = 9100\nbase_currency = "EUR"\n')
    s = load_settings({"SALESBOARD_CONFIG": str(cfg)})
    assert s.port == 9100 and s.base_currency == "EUR"
    assert load_settings({"SALESBOARD_CONFIG": str(cfg), "SALESBOARD_PORT": "9200"}).port == 9200


@pytest.mark.parametrize("env,message", [
    ({"SALESBOARD_PORT": "x"}, "SALESBOARD_PORT: invalid literal"),
    ({"SALESBOARD_ALLOW_REGISTRATION": "maybe"}, "SALESBOARD_ALLOW_REGISTRATION: expected true/false"),
    ({"SALESBOARD_ENV": "staging"}, "SALESBOARD_ENV must be development, production or test"),
    ({"SALESBOARD_BASE_CURRENCY": "EURO"}, "SALESBOARD_BASE_CURRENCY must be a 3-letter ISO code"),
    *[({"SALESBOARD_S3_ENDPOINT": url}, "SALESBOARD_S3_ENDPOINT must be an http(s) URL such as "
       f"https://s3.eu-central-1.amazonaws.com or http://127.0.0.1:9000, not '{url}'")
      for url in ("notaurl", "localhost:9000", "http://", "ftp://s3.example.com", "http://s3 example.com",
                  "https://s3.example.com:99999")],
])
def test_bad_values_say_what_to_fix(tmp_path, env, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_settings({"SALESBOARD_CONFIG": str(tmp_path / "none.toml"), **env})


@pytest.mark.parametrize("url", ["http://127.0.0.1:9000", "https://s3.eu-central-1.amazonaws.com",
                                 "https://acc.r2.cloudflarestorage.com/", "http://[::1]:9000"])
def test_s3_endpoints_that_are_urls_are_accepted(tmp_path, url):
    assert load_settings({"SALESBOARD_CONFIG": str(tmp_path / "none.toml"), "SALESBOARD_S3_ENDPOINT": url}).s3_endpoint == url


def test_every_setting_is_documented():
    doc = DOC.read_text()
    missing = [f"SALESBOARD_{f.name.upper()}" for f in fields(Settings)
               if f.name != "extra" and f"`SALESBOARD_{f.name.upper()}`" not in doc]
    assert not missing, f"add these to docs/configuration.md: {missing}"
