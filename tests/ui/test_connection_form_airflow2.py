"""The ``ozonetel`` connection form and its Test button in Airflow 2's Flask UI, in headless Chromium.

Airflow 2 builds the form from the hook (``get_connection_form_widgets()`` and
``get_ui_field_behaviour()``, made from the same declarations as the 3.x form): the relabeled
standard fields, every extra field with its label, help text and default; Test checks the values
in the form against the emulator without showing the key; Save stores the extras under their
plain names, as the hook reads them. Screenshots go to docs/images/ (``airflow2-*.png``).
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import expect

from airflow_provider_ozonetel import compat
from airflow_provider_ozonetel._provider_info import CONN_FIELDS, UI_FIELD_BEHAVIOUR
from tests.ui.conftest import EMULATOR_KEY, EMULATOR_USER
from tests.ui.test_connection_form import EXTRA_FIELDS, RELABELED, WRONG_KEY, screenshot

if TYPE_CHECKING:
    from playwright.sync_api import Page

    from tests.ui.conftest import Airflow

pytestmark = [pytest.mark.ui, pytest.mark.skipif(compat.AIRFLOW_V_3, reason="Airflow 2's Flask UI")]


def open_add_form(page: Page, airflow: Airflow) -> None:
    """Admin > Connections > + (Add), type Ozonetel CloudAgent."""
    page.goto(f"{airflow.url}/connection/add")
    page.select_option("#conn_type", "ozonetel")
    expect(page.locator("label[for=password]")).to_have_text("API key")


def extra(page: Page, name: str):
    return page.locator(f"#extra__ozonetel__{name}")


def fill_connection(page: Page, conn_id: str, *, base_url: str, port: int, user: str, key: str) -> None:
    page.locator("#conn_id").fill(conn_id)
    page.locator("#host").fill(base_url)
    page.locator("#port").fill(str(port))
    page.locator("#login").fill(user)
    page.locator("#password").fill(key)


def press_test(page: Page):
    """Press Test: the form's values go to the REST API's connection test; the alert it shows."""
    with page.expect_response(lambda r: r.url.endswith("/api/v1/connections/test")) as answer:
        page.locator("#test-connection").click()
    alert = page.locator(".container .row .alert").first
    expect(alert).to_be_visible()
    return answer.value, alert


def test_form_shows_the_relabeled_and_declared_fields_with_defaults(page: Page, airflow: Airflow):
    assert set(EXTRA_FIELDS) == set(CONN_FIELDS), "every declared extra field is checked below"
    open_add_form(page, airflow)

    for field, label in RELABELED.items():
        expect(page.locator(f"label[for={field}]")).to_have_text(label)
        expect(page.locator(f"#{field}")).to_be_visible()
        expect(page.locator(f"#{field}")).to_have_attribute(
            "placeholder", UI_FIELD_BEHAVIOUR["placeholders"][field]
        )
    expect(page.locator("#password")).to_have_attribute("type", "password")
    expect(page.locator("#port")).to_be_visible()
    for hidden in UI_FIELD_BEHAVIOUR["hidden-fields"]:  # schema and the raw Extra JSON
        expect(page.locator(f"#{hidden}")).to_be_hidden()

    for name, (label, default) in EXTRA_FIELDS.items():
        expect(page.locator(f"label[for=extra__ozonetel__{name}]")).to_have_text(
            re.compile(rf"^\s*{re.escape(label)}\s*$")
        )
        row = page.locator(".form-group, tr").filter(has=extra(page, name)).last
        expect(row).to_contain_text(CONN_FIELDS[name]["description"])
        if isinstance(default, bool):
            expect(extra(page, name)).to_be_checked(checked=default)
        else:
            expect(extra(page, name)).to_have_value(default)
    screenshot(page, None, "airflow2-connection-form.png")


def test_test_button_and_save_round_trip(page: Page, airflow: Airflow, emulator: str):
    port = int(emulator.rsplit(":", 1)[1])
    open_add_form(page, airflow)
    fill_connection(page, "ozonetel_ui", base_url=emulator, port=port, user=EMULATOR_USER, key=EMULATOR_KEY)
    extra(page, "auth_mode").fill("api_key")
    extra(page, "timeout").fill("120")
    extra(page, "verify_ssl").uncheck()

    answer, alert = press_test(page)
    assert answer.status == 200, answer.text()
    assert answer.json()["status"] is True, answer.json()
    expect(alert).to_have_class(re.compile("alert-success"))
    expect(alert).to_contain_text(f"Connected to {emulator} as {EMULATOR_USER}")
    expect(alert).to_contain_text("the API key was accepted")
    screenshot(page, None, "airflow2-connection-test-success.png")

    page.get_by_role("button", name="Save").click()
    expect(page.locator(".alert-success, .alert-info").filter(has_text="Added Row")).to_be_visible()
    stored = page.request.get(f"{airflow.url}/api/v1/connections/ozonetel_ui").json()
    assert (stored["conn_type"], stored["host"], stored["port"], stored["login"]) == (
        "ozonetel",
        emulator,
        port,
        EMULATOR_USER,
    )
    assert "password" not in stored or stored["password"] in (None, "", "***")
    # every extra field under its plain name: the defaults, and what was typed over them
    defaults = {name: spec["schema"]["default"] for name, spec in CONN_FIELDS.items()}
    assert json.loads(stored["extra"]) == {
        **defaults,
        "auth_mode": "api_key",
        "timeout": 120,
        "verify_ssl": False,
    }
    assert EMULATOR_KEY not in page.content()


def test_wrong_api_key_fails_without_showing_the_key(page: Page, airflow: Airflow, emulator: str):
    port = int(emulator.rsplit(":", 1)[1])
    open_add_form(page, airflow)
    fill_connection(
        page, "ozonetel_ui_bad_key", base_url=emulator, port=port, user=EMULATOR_USER, key=WRONG_KEY
    )

    answer, alert = press_test(page)
    assert answer.status == 200, answer.text()
    result = answer.json()
    assert result["status"] is False, result
    assert WRONG_KEY not in result["message"]
    expect(alert).to_contain_text(re.compile("userName or apiKey is Invalid", re.IGNORECASE))
    assert WRONG_KEY not in alert.inner_text()
    page.locator("#password").fill("")  # the page itself still holds what was typed into the field
    assert WRONG_KEY not in page.content()
    screenshot(page, None, "airflow2-connection-test-failure.png")
