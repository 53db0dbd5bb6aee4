"""The API key and tokens never reach a log line, an exception text or a repr."""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from airflow_provider_ozonetel.exceptions import OzonetelError
from airflow_provider_ozonetel.hooks.ozonetel import OzonetelHook
from tests.answers import (
    API_KEY,
    BIG_UCID,
    CALLBACKS_URL,
    CDR_URL,
    TOKEN,
    TOKEN_URL,
    callback_record,
    cdr_body,
)


class _Vendor(BaseHTTPRequestHandler):
    """A real HTTP peer, so urllib3 logs its request lines as it does in production."""

    def _answer(self, payload: str, status: int = 200) -> None:
        data = payload.encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):  # generateToken
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self._answer(json.dumps({"token": TOKEN, "message": ""}))

    def do_GET(self):
        if self.path.startswith("/CAServices"):
            self._answer(json.dumps({"status": "success", "message": [callback_record(BIG_UCID, API_KEY)]}))
        else:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self._answer(cdr_body([]))

    def log_message(self, *args):
        pass


@pytest.fixture
def vendor(set_conn):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Vendor)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    set_conn(host=f"http://127.0.0.1:{server.server_port}")
    yield server
    server.shutdown()
    server.server_close()


def test_urllib3_debug_logging_never_shows_the_key_or_token(vendor, caplog, ist_noon):
    hook = OzonetelHook()
    with caplog.at_level(logging.DEBUG):
        records = hook.get_call_details(BIG_UCID, report_type="historical")
        hook.get_cdr_details("2026-11-19")
    request_lines = [r.getMessage() for r in caplog.records if r.name.startswith("urllib3")]
    assert any(
        "/CAServices/CDR/callBacks.php?userName=demo_user&apiKey=***" in line for line in request_lines
    )
    assert API_KEY not in caplog.text and TOKEN not in caplog.text
    assert API_KEY not in json.dumps(records)


def test_connection_errors_do_not_carry_the_url_with_the_key(hook, requests_mock):
    url_with_key = f"{CALLBACKS_URL}?userName=demo_user&apiKey={API_KEY}"
    requests_mock.get(
        CALLBACKS_URL, exc=requests.ConnectionError(f"Max retries exceeded with url: {url_with_key}")
    )
    with pytest.raises(OzonetelError) as info:
        hook.get_call_details(BIG_UCID, report_type="historical")
    assert "CallBacks request could not connect or the connection broke (ConnectionError)" in str(info.value)
    chain, seen = info.value, []
    while chain is not None:  # nothing in the cause/context chain carries the key either
        seen.append(str(chain))
        chain = chain.__cause__ or chain.__context__
    assert all(API_KEY not in text for text in seen)


def test_error_pages_echoing_the_url_are_redacted(hook, requests_mock):
    page = f"<html>Bad Gateway for /CAServices/CDR/callBacks.php?userName=demo_user&apiKey={API_KEY}</html>"
    requests_mock.get(CALLBACKS_URL, status_code=400, text=page)
    with pytest.raises(OzonetelError) as info:
        hook.get_call_details(BIG_UCID, report_type="historical")
    assert "HTTP 400 with a body that is not valid JSON" in str(info.value)
    assert API_KEY not in str(info.value)


def test_tokens_and_keys_are_registered_with_airflows_masker(hook, requests_mock):
    from airflow.providers.common.compat.sdk import redact

    requests_mock.post(TOKEN_URL, json={"token": TOKEN, "message": ""})
    requests_mock.get(CDR_URL, text=cdr_body([]))
    hook.get_cdr_details("2026-11-19")
    assert redact(f"key={API_KEY} token={TOKEN}") == "key=*** token=***"


def test_reprs_hold_no_secret(hook, requests_mock):
    requests_mock.post(TOKEN_URL, json={"token": TOKEN, "message": ""})
    hook.get_token()
    for text in (repr(hook), repr(hook.settings), repr(hook.tokens.current), str(vars(hook.settings))):
        assert TOKEN not in text
    assert API_KEY not in repr(hook) and API_KEY not in repr(hook.settings)


def test_http_client_debug_output_never_shows_the_key_or_token(vendor, capfd, monkeypatch, ist_noon):
    import http.client

    assert http.client.HTTPConnection.debuglevel == 0
    hook = OzonetelHook()
    hook.get_call_details(BIG_UCID, report_type="historical")
    hook.get_cdr_details("2026-11-19")
    assert http.client.HTTPConnection.debuglevel == 0  # nothing of ours raised it
    # A user who raises it for the whole process (the usual recipe to debug requests) still sees
    # nothing of ours: it prints headers and URLs with print(), past every log filter.
    monkeypatch.setattr(http.client.HTTPConnection, "debuglevel", 1)
    capfd.readouterr()
    hook.get_call_details(BIG_UCID, report_type="historical")
    hook.get_cdr_details("2026-11-19")
    printed = capfd.readouterr()
    assert "send: b'" not in printed.out
    assert API_KEY not in printed.out + printed.err and TOKEN not in printed.out + printed.err


def test_no_code_of_ours_raises_http_client_debug_output():
    """``set_debuglevel``/``debuglevel = n`` anywhere in the package would print the key to stdout."""
    import ast
    import pathlib

    import airflow_provider_ozonetel

    raised = []
    for path in pathlib.Path(airflow_provider_ozonetel.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "set_debuglevel":
                raised.append(f"{path.name}:{node.lineno}")
            elif isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                names = [getattr(t, "attr", getattr(t, "id", None)) for t in targets]
                value = node.value
                if "debuglevel" in names and not (isinstance(value, ast.Constant) and value.value == 0):
                    raised.append(f"{path.name}:{node.lineno}")
    assert raised == []
