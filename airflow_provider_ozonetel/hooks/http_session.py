"""The HTTP session the hook sends with: redirects are followed only on the configured origin.

A redirect to another host would carry what the request carries: the ``apiKey`` header, the
bearer token (``requests`` strips ``Authorization`` across hosts, not custom headers), the
CallBacks key in the URL if the target echoes the query. So a redirect whose target is not the
configured scheme, host and port is not followed: it fails the request, naming where it pointed
(without its query, which may hold the key).

``http.client``'s debug output (``http.client.HTTPConnection.debuglevel = 1``, a common recipe
for debugging ``requests``) prints every request's headers and URL to stdout with ``print``,
past every log filter and masker: the ``apiKey`` header, the bearer token, the CallBacks URL
with the key. The session's connections pin their own debug level to 0, so that recipe, applied
to the whole process, shows nothing of ours. (``set_debuglevel()`` on a connection object still
would; nothing in the provider calls it.)
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool


class OffOriginRedirect(Exception):
    """A redirect the session refused to follow; ``target`` is its URL without the query."""

    def __init__(self, status: int, target: str):
        super().__init__(f"HTTP {status} redirect to {target}")
        self.status = status
        self.target = target


def origin(url: str) -> tuple[str, str, int | None]:
    """Scheme, host and port of ``url`` (the port made explicit for http and https)."""
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme.lower(), (parts.hostname or "").lower(), port


class _QuietHTTPConnection(HTTPConnection):
    debuglevel = 0  # shadows a process-wide http.client.HTTPConnection.debuglevel


class _QuietHTTPSConnection(HTTPSConnection):
    debuglevel = 0


class _QuietHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = _QuietHTTPConnection


class _QuietHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = _QuietHTTPSConnection


_QUIET_POOLS = {"http": _QuietHTTPConnectionPool, "https": _QuietHTTPSConnectionPool}


class _QuietAdapter(HTTPAdapter):
    """An ``HTTPAdapter`` whose connections never print http.client's debug output."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _QUIET_POOLS

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        manager.pool_classes_by_scheme = _QUIET_POOLS
        return manager


class OzonetelSession(requests.Session):
    """A ``requests.Session`` that follows redirects only within ``base_url``'s origin, and whose
    connections print nothing when http.client's debug level is raised."""

    def __init__(self, base_url: str):
        super().__init__()
        self.allowed_origin = origin(base_url)
        self.max_redirects = 5
        for prefix in ("https://", "http://"):
            self.mount(prefix, _QuietAdapter())

    def get_redirect_target(self, resp: requests.Response) -> str | None:
        target = super().get_redirect_target(resp)
        if target is not None:
            url = urljoin(resp.url, target)
            if origin(url) != self.allowed_origin:
                resp.close()
                parts = urlsplit(url)
                raise OffOriginRedirect(resp.status_code, f"{parts.scheme}://{parts.netloc}{parts.path}")
        return target
