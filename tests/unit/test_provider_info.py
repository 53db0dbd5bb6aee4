"""The provider as Airflow sees it: entry point, schema-valid info, the ozonetel connection form."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.metadata import entry_points
from importlib.resources import files

import jsonschema

from airflow_provider_ozonetel import __version__, get_provider_info


def _airflow_schema(name: str) -> dict:
    return json.loads((files("airflow") / name).read_text())


def test_entry_point_points_at_get_provider_info():
    (ep,) = [
        ep
        for ep in entry_points(group="apache_airflow_provider")
        if ep.value.startswith("airflow_provider_oz")
    ]
    assert ep.load() is get_provider_info


def test_provider_info_validates_against_airflows_schema():
    jsonschema.validate(get_provider_info(), _airflow_schema("provider_info.schema.json"))


def test_connection_type_validates_against_the_provider_yaml_schema():
    # provider_info.schema.json does not describe conn-fields; provider.yaml's schema does, strictly.
    schema = _airflow_schema("provider.yaml.schema.json")["properties"]["connection-types"]
    jsonschema.validate(get_provider_info()["connection-types"], schema)


def test_form_fields_and_behaviour():
    (conn,) = get_provider_info()["connection-types"]
    assert conn["connection-type"] == "ozonetel"
    assert conn["hook-class-name"] == "airflow_provider_ozonetel.hooks.ozonetel.OzonetelHook"
    assert set(conn["conn-fields"]) == {
        "auth_mode",
        "timeout",
        "connect_timeout",
        "request_deadline",
        "callbacks_path",
        "verify_ssl",
    }
    assert conn["conn-fields"]["connect_timeout"]["schema"]["default"] == 30  # as the hook's default
    assert conn["conn-fields"]["auth_mode"]["schema"]["enum"] == ["token", "api_key"]
    behaviour = conn["ui-field-behaviour"]
    assert behaviour["relabeling"]["login"] == "CloudAgent user name"
    assert behaviour["relabeling"]["password"] == "API key"
    assert set(behaviour["hidden-fields"]) == {"schema", "extra"}  # port: see _provider_info.py
    assert "host" in behaviour["placeholders"]


def test_providers_manager_registers_the_type_and_its_widgets():
    from airflow.providers_manager import ProvidersManager

    manager = ProvidersManager()
    assert "airflow-provider-ozonetel" in manager.providers
    widgets = manager.connection_form_widgets
    for name in ("auth_mode", "timeout", "connect_timeout", "callbacks_path", "verify_ssl"):
        assert f"extra__ozonetel__{name}" in widgets
    field = widgets["extra__ozonetel__auth_mode"].field
    # Airflow 3.2+: the declared field as a dict; before: the hook's wtforms field, unbound.
    default = field["value"] if isinstance(field, dict) else field.kwargs["default"]
    assert default == "token"
    assert manager.field_behaviours["ozonetel"]["relabeling"]["password"] == "API key"


def _airflow(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING"}  # 3.0 logs INFO to stdout
    return subprocess.run(
        [sys.executable, "-m", "airflow", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        env=env,
    )


def test_airflow_cli_lists_the_provider_and_the_connection_type():
    from airflow.providers_manager import ProvidersManager

    assert ProvidersManager().providers["airflow-provider-ozonetel"].version == __version__
    listed = _airflow("providers", "hooks", "--output", "json")  # one CLI run: each takes ~30 s
    hooks = json.loads(listed.stdout[listed.stdout.index("[") :])
    (ours,) = [h for h in hooks if h["connection_type"] == "ozonetel"]
    assert ours["class"] == "airflow_provider_ozonetel.hooks.ozonetel.OzonetelHook"
    assert ours["package_name"] == "airflow-provider-ozonetel"
    # What `airflow providers hooks` prints for a hook it cannot import, and its log of why.
    assert "Error when importing hook" not in json.dumps(ours)
    assert "airflow_provider_ozonetel" not in listed.stderr, listed.stderr
