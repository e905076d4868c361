"""The replica's HTTP core: routes requests to site objects, logs every request, speaks chunked and gzip."""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Protocol
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    """What a site sees of one request."""

    method: str
    path: str
    """The path without the query, still percent-encoded."""
    query: dict[str, list[str]]
    raw_target: str
    """The request-target exactly as sent (path and query)."""
    headers: dict[str, str]
    """Header names lower-cased."""
    client: str


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    reason: str | None = None
    chunked: bool = False
    """Send the body with ``Transfer-Encoding: chunked`` instead of a ``Content-Length``."""
    gzip: bool = False
    """Send the body gzip-compressed with ``Content-Encoding: gzip``."""


class Site(Protocol):
    def handle(self, request: Request) -> Response | None:
        """Answer the request, or None when the path is not this site's."""


class Replica:
    """Several sites behind one address; the first that answers wins. Keeps a log of every request."""

    def __init__(self, sites: list[Site]) -> None:
        self.sites = sites
        self.log: list[tuple[str, str]] = []
        self.times: list[float] = []
        """``time.monotonic()`` of each request in ``log``, at the same index."""
        self._lock = threading.Lock()

    def handle(self, request: Request) -> Response:
        with self._lock:
            self.log.append((request.method, request.raw_target))
            self.times.append(time.monotonic())
        for site in self.sites:
            answer = site.handle(request)
            if answer is not None:
                return answer
        return Response(404, b"<html><body>404 Not Found</body></html>", [("Content-Type", "text/html")])

    def requested(self, prefix: str = "") -> list[str]:
        """Request targets logged so far that start with ``prefix``."""
        with self._lock:
            return [target for _, target in self.log if target.startswith(prefix)]

    def requested_at(self, prefix: str = "") -> list[tuple[float, str]]:
        """(``time.monotonic()``, request target) of each request so far whose target starts with ``prefix``."""
        with self._lock:
            return [(t, target) for t, (_, target) in zip(self.times, self.log, strict=True) if target.startswith(prefix)]


def _handler_for(replica: Replica) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "ReplicaHTTPD/1.0"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            request = Request(
                method=self.command,
                path=parts.path,
                query=parse_qs(parts.query, keep_blank_values=True),
                raw_target=self.path,
                headers={k.lower(): v for k, v in self.headers.items()},
                client=self.client_address[0],
            )
            answer = replica.handle(request)
            body = answer.body
            if answer.gzip:
                body = gzip.compress(body, mtime=0)
            self.send_response(answer.status, answer.reason)
            for name, value in answer.headers:
                self.send_header(name, value)
            if answer.gzip:
                self.send_header("Content-Encoding", "gzip")
            if answer.chunked:
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                if self.command != "HEAD":
                    for start in range(0, len(body), 4096):
                        chunk = body[start : start + 4096]
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    self.wfile.write(b"0\r\n\r\n")
            else:
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

        do_HEAD = do_GET

    return Handler


class ReplicaServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, replica: Replica, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__((host, port), _handler_for(replica))
        self.replica = replica

    def handle_error(self, request: object, client_address: object) -> None:
        # A crawler killed mid-request resets its connections: that is the test, not an error.
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}/"


@contextmanager
def serving(replica: Replica, port: int = 0) -> Iterator[ReplicaServer]:
    """Serve ``replica`` on 127.0.0.1 from a background thread for the duration of the block."""
    server = ReplicaServer(replica, port=port)
    thread = threading.Thread(target=server.serve_forever, name="replica", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
