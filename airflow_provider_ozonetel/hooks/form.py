"""The connection form for the Airflow UIs that ask the hook for it (2.x, 3.0 and 3.1).

Airflow 3.2+ renders the form from the declarative ``conn-fields`` and ``ui-field-behaviour``
of ``get_provider_info()`` (``_provider_info.py``) without importing the hook. Older UIs call
``OzonetelHook.get_connection_form_widgets()`` and ``get_ui_field_behaviour()``; both are
built here from the same declarations, so the forms cannot drift apart.

The form libraries are imported inside the functions only: a DAG file that imports the hook
loads none of them. Airflow 2's Flask UI has wtforms, flask_babel and flask_appbuilder;
Airflow 3.0/3.1 substitute their own stand-ins for the wtforms field classes and need only
wtforms to be importable (without it Airflow skips every hook's form fields).
Only the field classes every one of those UIs accepts are used (string, integer, boolean):
the auth mode is a string field limited to its choices.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_ozonetel._provider_info import CONN_FIELDS, UI_FIELD_BEHAVIOUR


def connection_form_widgets() -> dict[str, Any]:
    """wtforms fields for every declared extra field, with its label, description and default."""
    from wtforms import BooleanField, IntegerField, StringField
    from wtforms.validators import NumberRange, Optional, any_of

    try:  # Airflow 2's Flask UI; Airflow 3.0/3.1 stand in for both when they are absent
        from flask_appbuilder.fieldwidgets import BS3TextFieldWidget
        from flask_babel import lazy_gettext
    except ImportError:
        BS3TextFieldWidget = None

        def lazy_gettext(text: str) -> str:
            return text

    widgets: dict[str, Any] = {}
    for name, spec in CONN_FIELDS.items():
        schema = spec["schema"]
        kinds = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        label = lazy_gettext(spec["label"])
        common: dict[str, Any] = {
            "description": spec.get("description", ""),
            "default": schema.get("default"),
        }
        if "boolean" in kinds:
            widgets[name] = BooleanField(label, **common)
            continue
        validators: list[Any] = [Optional()]
        widget = BS3TextFieldWidget() if BS3TextFieldWidget is not None else None
        if "integer" in kinds:
            if "minimum" in schema:
                validators.append(NumberRange(min=schema["minimum"]))
            widgets[name] = IntegerField(label, validators=validators, widget=widget, **common)
            continue
        if "enum" in schema:
            validators.append(any_of(schema["enum"]))
        widgets[name] = StringField(label, validators=validators, widget=widget, **common)
    return widgets


def ui_field_behaviour() -> dict[str, Any]:
    """The declared ``ui-field-behaviour`` in the hook method's spelling (``hidden_fields``)."""
    return {
        "hidden_fields": list(UI_FIELD_BEHAVIOUR["hidden-fields"]),
        "relabeling": dict(UI_FIELD_BEHAVIOUR["relabeling"]),
        "placeholders": dict(UI_FIELD_BEHAVIOUR["placeholders"]),
    }
