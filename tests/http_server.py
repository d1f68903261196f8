"""A real HTTP server on 127.0.0.1 (a free port), in a thread, standing in for the services
Huike calls (webhook receivers, chat robots, SMS gateways). Each test scripts its answers or
gives a handler that speaks the service's protocol, and reads what arrived."""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    at: float
    #: The client's port: requests with the same one came over the same connection.
    peer_port: int = 0

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: bytes = b"ok"
    #: Seconds to wait before answering (a slow receiver).
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "text/plain"})


Handler = Callable[[Received], Reply]


class _Listener(ThreadingHTTPServer):
    # socketserver's backlog of 5 drops connections beyond it when several requests arrive at
    # once (a job's deliveries are POSTed side by side), and the client's retry of a dropped
    # connection waits a second; a real receiver's backlog is hundreds.
    request_queue_size = 128


class HTTPServer:
    def __init__(self, handler: Handler | None = None) -> None:
        self.received: list[Received] = []
        #: When each answer was finished (monotonic), in the order they finished.
        self.answered: list[tuple[str, float]] = []
        self._scripts: dict[str, deque[Reply]] = defaultdict(deque)
        self._handler = handler
        self._lock = threading.Lock()
        self._server = _Listener(("127.0.0.1", 0), self._request_handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def script(self, path: str, replies: Iterable[Reply]) -> None:
        """Answer the next requests to ``path`` with ``replies`` in turn (then 200 ``ok``)."""
        with self._lock:
            self._scripts[path].extend(replies)

    def requests_to(self, path: str) -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.path == path]

    def start(self) -> HTTPServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _reply_for(self, request: Received) -> Reply:
        with self._lock:
            self.received.append(request)
            script = self._scripts.get(request.path)
            if script:
                return script.popleft()
        return self._handler(request) if self._handler else Reply()

    def _request_handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class RequestHandler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # The status line and headers, then the body, go out as two writes: with Nagle's
            # algorithm the body waits for the client's delayed ACK (40 ms on Linux), which a
            # real receiver does not add to every request.
            disable_nagle_algorithm = True

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                request = Received(
                    method=self.command,
                    path=parts.path,
                    query=parse_qs(parts.query, keep_blank_values=True),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=body,
                    at=time.monotonic(),
                    peer_port=int(self.client_address[1]),
                )
                reply = server._reply_for(request)
                if reply.delay:
                    time.sleep(reply.delay)
                try:
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)
                with server._lock:
                    server.answered.append((request.path, time.monotonic()))

            do_POST = _handle
            do_GET = _handle

            def log_message(self, format: str, *args: object) -> None:
                pass

        return RequestHandler


@contextmanager
def running(handler: Handler | None = None) -> Iterator[HTTPServer]:
    server = HTTPServer(handler).start()
    try:
        yield server
    finally:
        server.stop()
