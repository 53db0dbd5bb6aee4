"""What ``get_provider_info()`` returns: the provider, its modules and the ``ozonetel`` connection type.

``conn-fields`` and ``ui-field-behaviour`` are declarative (Airflow 3.2+): the
UI renders the form from them without importing the hook.
"""

from __future__ import annotations

from airflow_provider_ozonetel import __version__

CONN_FIELDS = {
    "auth_mode": {
        "label": "Auth mode",
        "description": (
            "token: mint a token (shared by all tasks) and send it as a Bearer header (accounts set to "
            "TOKEN_AUTH). api_key: send only the apiKey header (accounts set to BASIC_AUTH)."
        ),
        "schema": {"type": ["string", "null"], "enum": ["token", "api_key"], "default": "token"},
    },
    "timeout": {
        "label": "Request timeout (seconds)",
        "description": "Read timeout of one request. A busy day's answer can take minutes.",
        "schema": {"type": ["integer", "null"], "minimum": 1, "maximum": 86400, "default": 600},
    },
    "connect_timeout": {
        "label": "Connect timeout (seconds)",
        "description": "How long to wait for the host to accept a connection before retrying.",
        "schema": {"type": ["integer", "null"], "minimum": 1, "maximum": 86400, "default": 30},
    },
    "request_deadline": {
        "label": "Request deadline (seconds)",
        "description": (
            "Longest time one request may take, answer included, however slowly the answer arrives "
            "(a read timeout never fires on a trickle). At most 86400."
        ),
        "schema": {"type": ["integer", "null"], "minimum": 1, "maximum": 86400, "default": 3600},
    },
    "callbacks_path": {
        "label": "CallBacks path",
        "description": "Path of the CDR in CallBacks API on the host.",
        "schema": {"type": ["string", "null"], "default": "/CAServices/CDR/callBacks.php"},
    },
    "verify_ssl": {
        "label": "Verify TLS certificate",
        "description": "Turn off only for a partner host with a private certificate.",
        "schema": {"type": ["boolean", "null"], "default": True},
    },
}

# Port stays visible: Airflow 3.3.2's Test button (Admin > Connections) posts ``port: 0`` for a
# connection without a port, which the API server takes for a different endpoint and answers
# "Bad Request" (apache/airflow#73298). With a port saved (443), Test works. The hook uses the
# port only when the Base URL names none. ("extra" is honoured by Airflow 2's form only: the
# Airflow 3 UI always shows its "Extra Fields JSON" section, collapsed.)
UI_FIELD_BEHAVIOUR = {
    "hidden-fields": ["schema", "extra"],
    "relabeling": {"host": "Base URL", "login": "CloudAgent user name", "password": "API key"},
    "placeholders": {
        "host": "in1-ccaas-api.ozonetel.com (empty: domestic default)",
        "port": "443 (set it: the Test button needs a port)",
        "login": "CloudAgent account name",
        "password": "API key from CloudAgent admin",
    },
}

PROVIDER_INFO = {
    "package-name": "airflow-provider-ozonetel",
    "name": "Ozonetel CloudAgent",
    "description": "Pull Ozonetel CloudAgent call detail records (CDR) into storage.",
    "versions": [__version__],
    "integrations": [
        {
            "integration-name": "Ozonetel CloudAgent",
            "external-doc-url": "https://docs.ozonetel.com/",
            "tags": ["service"],
        }
    ],
    "hooks": [
        {
            "integration-name": "Ozonetel CloudAgent",
            "python-modules": ["airflow_provider_ozonetel.hooks.ozonetel"],
        }
    ],
    "operators": [
        {
            "integration-name": "Ozonetel CloudAgent",
            "python-modules": ["airflow_provider_ozonetel.operators.ozonetel"],
        }
    ],
    "sensors": [
        {
            "integration-name": "Ozonetel CloudAgent",
            "python-modules": ["airflow_provider_ozonetel.sensors.ozonetel"],
        }
    ],
    "connection-types": [
        {
            "connection-type": "ozonetel",
            "hook-class-name": "airflow_provider_ozonetel.hooks.ozonetel.OzonetelHook",
            "hook-name": "Ozonetel CloudAgent",
            "conn-fields": CONN_FIELDS,
            "ui-field-behaviour": UI_FIELD_BEHAVIOUR,
        }
    ],
}
