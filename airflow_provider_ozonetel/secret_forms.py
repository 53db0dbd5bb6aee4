"""The spellings a secret takes when something echoes it back. Pure: no Airflow import.

An API key such as ``K3y+/=&<>"x`` is not always echoed as it is: an HTML error page escapes it
(``K3y+/=&amp;&lt;&gt;&quot;x``), a URL percent-encodes it (``K3y%2B%2F%3D%26%3C%3E%22x``, or
``+`` for a space), a JSON error string escapes its quotes (``K3y+/=&<>\\"x``), and a JSON
string inside another one escapes them twice. Each of these is the key to whoever reads it, so
each is hidden wherever the key is.
"""

from __future__ import annotations

import html
import json
import re
from urllib.parse import quote, quote_plus

_PERCENT = re.compile(r"%[0-9A-F]{2}")


def echo_forms(secret: str) -> frozenset[str]:
    """``secret`` and every escaped spelling of it listed in the module docstring."""
    forms = {secret}
    escaped_html = html.escape(secret, quote=True)
    forms |= {
        escaped_html,
        html.escape(secret, quote=False),
        escaped_html.replace("&quot;", "&#34;").replace("&#x27;", "&#39;"),
    }
    for percent in (quote(secret, safe=""), quote(secret, safe="/"), quote_plus(secret)):
        forms |= {percent, _PERCENT.sub(lambda m: m.group(0).lower(), percent)}
    once = {json.dumps(form, ensure_ascii=ascii_only)[1:-1] for form in forms for ascii_only in (True, False)}
    twice = {json.dumps(form, ensure_ascii=ascii_only)[1:-1] for form in once for ascii_only in (True, False)}
    return frozenset(forms | once | twice)
