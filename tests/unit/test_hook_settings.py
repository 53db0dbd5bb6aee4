"""Connection settings: host forms, extras (plain and prefixed), clear errors."""

from __future__ import annotations

import pytest

from airflow_provider_ozonetel.exceptions import OzonetelAuthError
from airflow_provider_ozonetel.hooks.ozonetel import DEFAULT_BASE_URL, OzonetelHook, normalize_base_url


@pytest.mark.parametrize(
    ("host", "port", "expected"),
    [
        ("", None, DEFAULT_BASE_URL),
        (None, None, DEFAULT_BASE_URL),
        ("api.ccaas.ozonetel.com", None, "https://api.ccaas.ozonetel.com"),
        ("https://partner.example.com/", None, "https://partner.example.com"),
        ("http://127.0.0.1", 8787, "http://127.0.0.1:8787"),
        ("http://127.0.0.1:8787", None, "http://127.0.0.1:8787"),
        ("https://partner.example.com/cloudagent/", None, "https://partner.example.com/cloudagent"),
    ],
)
def test_base_url_forms(host, port, expected):
    assert normalize_base_url(host, port) == expected


def test_defaults(set_conn):
    settings = OzonetelHook().settings
    assert settings.auth_mode == "token"
    assert settings.timeout == 600 and settings.verify_ssl is True
    assert settings.callbacks_path == "/CAServices/CDR/callBacks.php"


def test_extras_plain_and_prefixed(set_conn):
    set_conn(
        extra={
            "auth_mode": "API_KEY",
            "extra__ozonetel__timeout": "120",
            "callbacks_path": "/x/cb.php",
            "verify_ssl": "false",
        }
    )
    settings = OzonetelHook().settings
    assert (settings.auth_mode, settings.timeout, settings.callbacks_path, settings.verify_ssl) == (
        "api_key",
        120.0,
        "/x/cb.php",
        False,
    )
    assert OzonetelHook().get_conn().verify is False


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"extra": {"auth_mode": "oauth"}}, r"auth_mode: 'oauth' is not one of token, api_key"),
        ({"login": ""}, r"login: the connection has no CloudAgent user name"),
        ({"password": ""}, r"password: the connection has no API key"),
        ({"extra": {"timeout": "-1"}}, r"timeout: expected a number of seconds > 0"),
        ({"extra": {"verify_ssl": "maybe"}}, r"verify_ssl: expected true or false"),
        ({"host": "ftp://x"}, r"host: 'ftp://x' is not a base URL or domain"),
    ],
)
def test_bad_connections_name_the_field(set_conn, overrides, message):
    set_conn(**overrides)
    with pytest.raises(OzonetelAuthError, match=message):
        _ = OzonetelHook().settings


def test_named_connection(set_conn):
    set_conn("ozonetel_eu", host="api.ccaas.ozonetel.com")
    assert OzonetelHook("ozonetel_eu").settings.base_url == "https://api.ccaas.ozonetel.com"


@pytest.mark.parametrize(
    ("argument", "value"),
    [
        ("max_retries", -1),
        ("max_retries", 1.5),
        ("rate_limit_retries", -2),
        ("rate_window_seconds", 0),
        ("token_ttl_seconds", -5),
        ("rate_limit_timeout", -1),
        ("rate_limit_timeout", float("inf")),
        ("settle_seconds", float("nan")),
    ],
)
def test_bad_hook_arguments_name_the_argument(argument, value):
    with pytest.raises(ValueError, match=rf"^{argument}: expected"):
        OzonetelHook(**{argument: value})


def test_extras_as_airflow_2s_test_button_posts_them(set_conn):
    """Airflow 2's form posts every extra field as text, twice (prefixed and not), a ticked box as "y"."""
    posted = {"auth_mode": "api_key", "timeout": "120", "verify_ssl": "y", "callbacks_path": "/cb.php"}
    set_conn(extra={**posted, **{f"extra__ozonetel__{k}": v for k, v in posted.items()}})
    settings = OzonetelHook().settings
    assert (settings.auth_mode, settings.timeout, settings.verify_ssl, settings.callbacks_path) == (
        "api_key",
        120.0,
        True,
        "/cb.php",
    )
