"""The HTTP core shared by the loopback simulators.

The simulators back an offline demo that must run right after ``pip install``, so this is plain
stdlib: a ``ThreadingHTTPServer`` on 127.0.0.1 (one daemon thread per connection) serving in a
background thread. What the real clients (httpx, requests) rely on:

- HTTP/1.1 keep-alive: every JSON answer carries ``Content-Length``, so one pooled connection
  serves many sequential requests;
- streams use chunked transfer-encoding, so an abrupt close (:meth:`Exchange.abort`) reaches the
  client as an incomplete body, exactly like a dropped connection to a hosted API;
- ``TCP_NODELAY`` and a large listen backlog, so small paced chunks leave at once and a burst of
  concurrent connections is accepted rather than retried by the kernel.

A simulator subclasses :class:`LoopbackServer` and implements :meth:`LoopbackServer.handle`.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import socket
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Generic, Self, TypeVar
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
_STOP_GRACE_SECONDS = 2.0
KEEP_REQUESTS = 1_000
"""Requests a simulator's log keeps by default, the latest: a simulator serving without end
(`dev --simulate`, a long benchmark) must not grow by every request (~10 KB a question)."""

EntryT = TypeVar("EntryT")


class Exchange:
    """One HTTP request and the means to answer it, so simulators never touch sockets."""

    def __init__(self, handler: _Handler, body: bytes) -> None:
        self.method: str = handler.command
        self.path: str = urlsplit(handler.path).path
        self.headers: Message = handler.headers
        self.body = body
        self.received_at = time.time()
        self.received_monotonic = time.monotonic()  # the same instant, to pace answers against
        self.headers_sent = False
        self._handler = handler
        self._chunked = False

    def json(self) -> Any:
        """The body parsed as JSON (raises ``ValueError`` when it is not)."""
        return json.loads(self.body or b"null")

    def bearer_token(self) -> str | None:
        """The token of an ``Authorization: Bearer ...`` header, if any non-empty one was sent."""
        scheme, _, token = (self.headers.get("Authorization") or "").partition(" ")
        if scheme.lower() != "bearer":
            return None
        return token.strip() or None

    def send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        """Answer with a complete JSON body (keeps the connection alive)."""
        data = json.dumps(payload).encode()
        self._send_head(status, {"Content-Type": "application/json", **(headers or {})}, len(data))
        self._handler.wfile.write(data)

    def start_stream(self, content_type: str, headers: dict[str, str] | None = None) -> None:
        """Send a 200 head whose body follows in :meth:`write` calls."""
        self._chunked = self._handler.request_version != "HTTP/1.0"
        if not self._chunked:  # HTTP/1.0 has no chunking: the body ends when we close
            self._handler.close_connection = True
        self._send_head(200, {"Content-Type": content_type, **(headers or {})}, None)

    def write(self, data: bytes) -> None:
        """Send one piece of a streamed body at once (one HTTP chunk)."""
        frame = b"%x\r\n%s\r\n" % (len(data), data) if self._chunked else data
        self._handler.wfile.write(frame)

    def end_stream(self) -> None:
        """Finish a streamed body properly."""
        if self._chunked:
            self._handler.wfile.write(b"0\r\n\r\n")

    def abort(self) -> None:
        """Drop the connection now, leaving any streamed body incomplete."""
        self._handler.close_connection = True
        with contextlib.suppress(OSError):  # already gone
            self._handler.connection.shutdown(socket.SHUT_RDWR)

    def _send_head(self, status: int, headers: dict[str, str], length: int | None) -> None:
        handler = self._handler
        handler.send_response(status)
        for name, value in headers.items():
            handler.send_header(name, value)
        if length is not None:
            handler.send_header("Content-Length", str(length))
        elif self._chunked:
            handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        self.headers_sent = True


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _HTTPServer

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        exchange = Exchange(self, self.rfile.read(length) if length else b"")
        app = self.server.app
        try:
            app.handle(exchange)
        except (BrokenPipeError, ConnectionResetError):
            log.debug("client of %s went away mid-response", type(app).__name__)
            self.close_connection = True
        except Exception:
            log.exception("%s failed on %s %s", type(app).__name__, self.command, self.path)
            if exchange.headers_sent:
                exchange.abort()
            else:
                exchange.send_json(500, app.error_body(500, "internal simulator error"))

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, type(self.server.app).__name__, *args)


class _HTTPServer(ThreadingHTTPServer):
    """Tracks open connections so that :meth:`LoopbackServer.stop` can close idle keep-alives."""

    daemon_threads = True
    block_on_close = False  # stop() waits for handlers itself, with a bound
    request_queue_size = 128

    def __init__(self, app: LoopbackServer[Any], host: str, port: int) -> None:
        super().__init__((host, port), _Handler)
        self.app = app
        self._open: set[socket.socket] = set()
        self._open_changed = threading.Condition()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_changed:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        super().shutdown_request(request)
        with self._open_changed:
            self._open.discard(request)
            self._open_changed.notify_all()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Log instead of printing to stderr; a client hanging up is routine, not an error."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            log.debug("connection from %s dropped by the client", client_address)
        else:
            log.exception("unexpected error serving %s", client_address)

    def close_connections(self, timeout: float) -> None:
        """Shut every open connection down and wait (bounded) for their handlers to finish."""
        with self._open_changed:
            for sock in self._open:
                with contextlib.suppress(OSError):  # already closed by the peer
                    sock.shutdown(socket.SHUT_RDWR)
            self._open_changed.wait_for(lambda: not self._open, timeout)


@dataclass(frozen=True)
class Failure:
    """An injected error answer."""

    status: int
    retry_after: float | None = None

    @property
    def headers(self) -> dict[str, str]:
        """The ``retry-after`` header, when one was asked for."""
        return {} if self.retry_after is None else {"retry-after": f"{self.retry_after:g}"}


class Service:
    """Something with `start()` and `stop()`, usable as a context manager."""

    def start(self) -> Self:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class LoopbackServer(Service, Generic[EntryT]):
    """A simulator served on 127.0.0.1 (ephemeral port by default) from a daemon thread.

    Use it as a context manager or call :meth:`start` / :meth:`stop`. Subclasses answer requests
    in :meth:`handle`, describe errors in :meth:`error_body`, and append log entries with
    :meth:`_record`; failures queued by :meth:`fail_next` are theirs to consume with
    :meth:`_take_failure`. Log entries are stamped *before* the answer's last bytes leave, so a
    test reading the log right after its client returned sees the request complete.

    The log keeps the latest ``keep`` requests (None: all of them); :attr:`logged` counts every
    request, as a position for :meth:`requests_since`. ``host`` is the interface it listens on:
    loopback unless told otherwise (``"0.0.0.0"``: all, e.g. for a container to reach it).
    """

    def __init__(
        self, *, host: str = HOST, port: int = 0, keep: int | None = KEEP_REQUESTS
    ) -> None:
        if keep is not None and keep < 1:
            raise ValueError(f"keep must be at least 1 (None keeps every request), not {keep}")
        self.host = host
        self._requested_port = port
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._failures: deque[Failure] = deque()
        self._log: deque[EntryT] = deque(maxlen=keep)
        self._logged = 0

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Self:
        """Bind and serve in the background; a running server is left as is."""
        if self._httpd is None:
            self._stopping.clear()
            self._httpd = _HTTPServer(self, self.host, self._requested_port)
            self._thread = threading.Thread(
                target=self._httpd.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"{type(self).__name__}:{self.port}",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the port and every open connection; safe to call twice."""
        httpd, thread = self._httpd, self._thread
        if httpd is None or thread is None:
            return
        self._stopping.set()  # wakes handlers that are pacing a response
        httpd.shutdown()
        httpd.server_close()
        httpd.close_connections(timeout=_STOP_GRACE_SECONDS)
        thread.join()
        self._httpd = self._thread = None

    @property
    def port(self) -> int:
        """The bound port (only while running)."""
        if self._httpd is None:
            raise RuntimeError(f"{type(self).__name__} is not running; call start() first")
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        """``http://HOST:PORT`` (only while running; 127.0.0.1 when it listens on all)."""
        host = HOST if self.host in ("", "0.0.0.0") else self.host
        return f"http://{host}:{self.port}"

    # -- log ---------------------------------------------------------------------------------

    @property
    def keep(self) -> int | None:
        """How many of the latest requests the log keeps (None: all)."""
        return self._log.maxlen

    @property
    def requests(self) -> list[EntryT]:
        """A snapshot of the log, oldest first: the latest ``keep`` requests (entries of requests
        in flight still fill in)."""
        with self._lock:
            return list(self._log)

    @property
    def logged(self) -> int:
        """Requests logged since the server was made, those the log no longer keeps included:
        a position for :meth:`requests_since` (``len(requests)`` stops at ``keep``)."""
        with self._lock:
            return self._logged

    def requests_since(self, position: int) -> list[EntryT]:
        """The entries of the requests logged after the first ``position`` (an earlier
        :attr:`logged`) that the log still keeps, oldest first."""
        with self._lock:
            dropped = self._logged - len(self._log)
            return list(itertools.islice(self._log, max(position - dropped, 0), None))

    def _record(self, entry: EntryT) -> EntryT:
        with self._lock:
            if len(self._log) == self._log.maxlen:
                self._forget(self._log[0])
            self._log.append(entry)
            self._logged += 1
        return entry

    def _forget(self, entry: EntryT) -> None:
        """`entry` leaves the full log (called holding the lock): a subclass keeps what it
        still needs of it, such as totals."""

    # -- faults ------------------------------------------------------------------------------

    def fail_next(self, n: int = 1, status: int = 500, retry_after: float | None = None) -> None:
        """Answer the next ``n`` requests with an error ``status`` (and a ``retry-after``)."""
        with self._lock:
            self._failures.extend(Failure(status, retry_after) for _ in range(n))

    def _take_failure(self) -> Failure | None:
        with self._lock:
            return self._failures.popleft() if self._failures else None

    # -- pacing ------------------------------------------------------------------------------

    def _sleep_until(self, deadline: float) -> bool:
        """Wait until ``deadline`` (``time.monotonic()``); False if the server stops meanwhile.

        Callers pass absolute deadlines so that pacing errors do not accumulate.
        """
        remaining = deadline - time.monotonic()
        if remaining > 0:
            return not self._stopping.wait(remaining)
        return not self._stopping.is_set()

    # -- to implement ------------------------------------------------------------------------

    def handle(self, exchange: Exchange) -> None:
        """Answer one request (runs in the connection's thread)."""
        raise NotImplementedError

    def error_body(self, status: int, message: str | None = None) -> dict[str, Any]:
        """The JSON body of an error answer, in the simulated API's own style."""
        raise NotImplementedError


def wait_for_interrupt() -> None:
    """Block the main thread until Ctrl-C, for the simulators' standalone entry points."""
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
