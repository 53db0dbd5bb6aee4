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

A read timeout bounds each wait for bytes, not a request: a peer that sends one byte just
before every timeout keeps a request (and its task) alive forever. :class:`RequestDeadline` is a
watchdog that shuts the request's socket down once the whole request (headers and body, however
slowly read) has taken longer than the connection's ``request_deadline``; the blocked read then
fails, and the caller reports the deadline (``expired``).
"""

from __future__ import annotations

import contextlib
import socket
import threading
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


class _Slot(threading.local):
    """Per thread: the request deadline running, and the connection its request went out on."""

    deadline: RequestDeadline | None = None
    connection: Any = None


_slot = _Slot()


class RequestDeadline:
    """A watchdog for one request: after ``seconds``, shut its connection's socket down.

    Start it (in the thread that sends) right before the request; :meth:`cancel` it once the
    answer was read or closed. A deadline only ever acts on its own request's connection.
    """

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.expired = False
        _slot.deadline, _slot.connection = self, None
        self._slot_state = _slot.__dict__  # the sending thread's (the timer runs in another one)
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True
        self._timer.start()

    def _fire(self) -> None:
        state = self._slot_state
        if state.get("deadline") is not self:
            return
        self.expired = True
        sock = getattr(state.get("connection"), "sock", None)
        if isinstance(sock, socket.socket):
            # The base method: on a TLS socket too, without touching its SSL object.
            with contextlib.suppress(OSError):
                socket.socket.shutdown(sock, socket.SHUT_RDWR)

    def cancel(self) -> None:
        self._timer.cancel()
        if self._slot_state.get("deadline") is self:
            self._slot_state["deadline"] = self._slot_state["connection"] = None


def _note_connection(connection: Any) -> None:
    if _slot.deadline is not None:
        _slot.connection = connection


class _QuietHTTPConnection(HTTPConnection):
    debuglevel = 0  # shadows a process-wide http.client.HTTPConnection.debuglevel

    def request(self, *args: Any, **kwargs: Any) -> None:
        _note_connection(self)  # the request deadline's watchdog shuts this one down
        super().request(*args, **kwargs)


class _QuietHTTPSConnection(HTTPSConnection):
    debuglevel = 0

    def request(self, *args: Any, **kwargs: Any) -> None:
        _note_connection(self)
        super().request(*args, **kwargs)


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
