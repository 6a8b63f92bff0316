"""`davportal serve`'s connections before a request, between requests, and while a body arrives.

cheroot (8.5 and later) hands a connection to a worker thread as soon as it is readable, and the
worker reads the request line and headers itself: ten clients sending a byte a second hold ten
workers, and nothing else, the health check included, is answered until they stop. Here the
selector thread gathers each request's head (and runs the TLS handshake) without blocking, so a
worker is taken only by a complete head; a head (handshake included) that takes longer than
`limits.header_seconds` is closed, and so is a kept-alive connection idle for
`limits.keepalive_seconds`. The body is read by the worker, each read waiting only as long as the
body keeps its pace (`limits.min_body_bytes_per_second`, counted from
`limits.body_grace_seconds` after it began) and never longer than the server's socket timeout.
A health check has a thread of its own, so a load balancer hears from the node even while every
worker holds an upload.
"""

from __future__ import annotations

import logging
import queue
import re
import selectors
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from cheroot import server, wsgi
from cheroot.makefile import StreamReader, StreamWriter

from davportal.core.settings import Limits
from davportal.web import health

_logger = logging.getLogger("davportal")

READ_SIZE = 64 * 1024
# The end of a head, or a bare LF, which cheroot refuses at once (400): either way it is ready.
_HEAD_END = re.compile(rb"\r\n\r\n|(?<!\r)\n")
# cheroot reads a head in pieces of up to 256 bytes and checks its size after each: a head held
# this far past the limit is refused (413, 414) from what was gathered, without one more read.
_LINE = 256
_BODY_HEADER = re.compile(rb"^(content-length|transfer-encoding)[ \t]*:", re.IGNORECASE | re.MULTILINE)
_TIMED_OUT = b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
_HEALTH_TARGET = health.PATH.encode()
_HEALTH_QUEUE = 16  # beyond this many waiting health checks, the next goes to the workers
_ACCEPTS_PER_TURN = 64  # then the connections already held get their turn


class PacedSocketIO(socket.SocketIO):
    """A connection's raw reads: first the bytes the selector gathered, then the socket's; while a
    body arrives, a read that would fall behind the body's pace ends the body instead (`cut`)."""

    def __init__(self, sock: socket.socket):
        super().__init__(sock, "rb")
        self._socket = sock
        self.pending = b""
        self.cut = False
        self._pace: _Pace | None = None

    def start_body(self, limits: Limits, timeout: float) -> None:
        self._pace = _Pace(limits, timeout, time.monotonic())

    def end_body(self) -> None:
        self._pace = None

    def take_pending(self) -> bytes:
        taken, self.pending = self.pending, b""
        return taken

    def readinto(self, b) -> int | None:
        pace = self._pace
        if self.pending:
            n = min(len(b), len(self.pending))
            b[:n] = self.pending[:n]
            self.pending = self.pending[n:]
        elif pace is None:
            return super().readinto(b)
        elif self.cut:
            return 0
        else:
            n = self._paced_recv(b, pace)
        if pace:
            pace.received += n
        return n

    def _paced_recv(self, b, pace: _Pace) -> int:
        # Bytes already there are always taken; only the wait for more is bounded.
        self._socket.settimeout(max(0.0, pace.wait(time.monotonic())))
        try:
            return self._socket.recv_into(b)
        except (TimeoutError, BlockingIOError, ssl.SSLWantReadError):
            pass
        finally:
            self._socket.settimeout(pace.timeout)
        # An end of the body, not an error: the app answers as for a client that went away (the
        # upload was cut short, nothing kept), and the connection is closed after its answer.
        self.cut = True
        return 0


@dataclass
class _Pace:
    limits: Limits
    timeout: float  # the socket's own: the longest any single read waits
    started: float
    received: int = 0

    def wait(self, now: float) -> float:
        """How long the next read may wait for its first byte."""
        rate = self.limits.min_body_bytes_per_second
        if not rate:
            return self.timeout
        # The Apache mod_reqtimeout model: every byte received buys 1/rate seconds more.
        behind = self.started + self.limits.body_grace_seconds + self.received / rate - now
        return min(self.timeout, behind)


class _PacedReader(StreamReader):
    def __init__(self, sock, bufsize: int):
        # StreamReader's own __init__ would read through a plain SocketIO.
        super(StreamReader, self).__init__(PacedSocketIO(sock), bufsize)
        self.bytes_read = 0


def paced_makefile(sock, mode="r", bufsize=READ_SIZE):
    """What cheroot's MakeFile gives (for plain sockets and the builtin TLS adapter alike), with
    reads through a PacedSocketIO."""
    return _PacedReader(sock, bufsize) if "r" in mode else StreamWriter(sock, mode, bufsize)


class PacedRequest(server.HTTPRequest):
    def respond(self):
        raw = self.conn.raw
        raw.start_body(self.server.limits, self.server.timeout)
        try:
            super().respond()
        finally:
            raw.end_body()
        if raw.cut:
            self.close_connection = True
            _logger.info(
                "Closed the connection from %s: its request body arrived too slowly (%s).",
                self.conn.remote_addr,
                self.uri.decode("latin-1", "replace"),
            )


class GatedConnection(server.HTTPConnection):
    """Reads through a PacedSocketIO (`raw`), which the Gate fills with the gathered head."""

    RequestHandlerClass = PacedRequest
    rbufsize = READ_SIZE

    def __init__(self, server, sock) -> None:
        super().__init__(server, sock, paced_makefile)
        self.raw: PacedSocketIO = self.rfile.raw


@dataclass(eq=False)
class _Held:
    """A connection the Gate holds: its TLS handshake, or its next request's head, is arriving."""

    sock: Any  # socket.socket, or ssl.SSLSocket during and after the handshake
    deadline: float
    conn: Any = None  # the GatedConnection; None until the TLS handshake is done
    addr: Any = None
    head: bytearray = field(default_factory=bytearray)
    idle: bool = False  # kept alive between requests: nothing of the next one yet
    events: int = selectors.EVENT_READ

    def close(self) -> None:
        (self.conn or self.sock).close()


class Gate:
    """Stands in for cheroot's ConnectionManager (the same methods, which HTTPServer calls):
    connections wait here, without a worker, until a request's head has fully arrived."""

    def __init__(self, server: GatedServer, limits: Limits, max_head_bytes: int):
        self.server = server
        self.limits = limits
        self.max_held_head = max_head_bytes + _LINE
        self._selector = selectors.DefaultSelector()
        self._lock = threading.Lock()  # workers put connections back while the selector thread reads
        self._stop_requested = False
        self._closed = False
        self._stopped = threading.Event()
        self._stopped.set()
        server.socket.setblocking(False)  # accepted until none is left, in _accept
        self._selector.register(server.socket.fileno(), selectors.EVENT_READ, server)

    # --- what HTTPServer calls ----------------------------------------------------------------
    def run(self, expiration_interval: float) -> None:
        self._stopped.clear()
        try:
            last_expiry = time.monotonic()
            while not self._stop_requested:
                for key, _ in self._selector.select(timeout=expiration_interval):
                    if key.data is self.server:
                        self._accept()
                    elif key.data.conn is None:
                        self._handshake(key.data)
                    else:
                        self._gather(key.data)
                now = time.monotonic()
                if now - last_expiry >= expiration_interval:
                    self._expire(now)
                    last_expiry = now
        finally:
            self._stopped.set()

    def stop(self) -> None:
        self._stop_requested = True
        self._stopped.wait()

    def close(self) -> None:
        with self._lock:
            held = [key.data for key in self._selector.get_map().values() if key.data is not self.server]
            self._closed = True
            self._selector.close()
        for item in held:
            item.close()

    def put(self, conn) -> None:
        """A worker is done with a request and the connection stays open for the next."""
        # What of the next request was read with this one: buffered, not yet read from the
        # buffer, or decrypted by TLS and waiting there (which the selector would never report).
        leftover = conn.rfile.read1() if conn.rfile.has_data() else b""
        if isinstance(conn.socket, ssl.SSLSocket) and conn.socket.pending():
            leftover += conn.socket.recv(conn.socket.pending())
        held = _Held(conn.socket, 0.0, conn=conn, head=bytearray(leftover + conn.raw.take_pending()))
        held.idle = not held.head
        held.deadline = time.monotonic() + (self.limits.keepalive_seconds if held.idle else self.limits.header_seconds)
        if self._complete(held.head):
            self._dispatch(held)
        else:
            conn.socket.settimeout(0)
            self._hold(held)

    @property
    def can_add_keepalive_connection(self) -> bool:
        limit = self.server.keep_alive_conn_limit
        if limit is None:
            return True
        return sum(1 for held in self._held() if held.idle) < limit

    # --- the selector thread ------------------------------------------------------------------
    def _accept(self) -> None:
        """Connections waiting in the listen queue, many at a time, so a burst does not overflow it."""
        for _ in range(_ACCEPTS_PER_TURN):
            try:
                sock, addr = self.server.socket.accept()
            except (BlockingIOError, InterruptedError, ConnectionAbortedError):
                return
            self._admit(sock, addr)

    def _admit(self, sock: socket.socket, addr) -> None:
        deadline = time.monotonic() + self.limits.header_seconds
        adapter = self.server.ssl_adapter
        if adapter is None:
            sock.settimeout(0)
            self._hold(_Held(sock, deadline, conn=self._connection(sock, addr)))
            return
        try:
            tls = adapter.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
            tls.setblocking(False)
        except OSError:
            sock.close()
            return
        self._hold(_Held(tls, deadline, addr=addr))

    def _connection(self, sock, addr) -> Any:
        conn = self.server.ConnectionClass(self.server, sock)
        if isinstance(addr, tuple):
            conn.remote_addr, conn.remote_port = addr[:2]
        return conn

    def _handshake(self, held: _Held) -> None:
        """One step of a TLS handshake: cheroot does it whole in this thread, where a client that
        sends nothing stalls every other connection for the socket timeout."""
        try:
            held.sock.do_handshake()
        except ssl.SSLWantReadError:
            self._watch(held, selectors.EVENT_READ)
            return
        except ssl.SSLWantWriteError:
            self._watch(held, selectors.EVENT_WRITE)
            return
        except OSError:  # not TLS, or the client gave up: nothing to answer
            self._release(held)
            held.close()
            return
        held.conn = self._connection(held.sock, held.addr)
        held.conn.ssl_env = self.server.ssl_adapter.get_environ(held.sock)
        self._watch(held, selectors.EVENT_READ)
        self._gather(held)  # the request may have come with the handshake's last flight

    def _gather(self, held: _Held) -> None:
        try:
            while len(held.head) <= self.max_held_head:
                try:
                    data = held.sock.recv(READ_SIZE)
                except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
                    return  # all there is for now
                if not data:
                    raise ConnectionError("closed by the client")
                if held.idle:  # the next request begins: its head has header_seconds from now
                    held.idle = False
                    held.deadline = time.monotonic() + self.limits.header_seconds
                start = max(0, len(held.head) - 3)
                held.head += data
                if self._complete(held.head, start):
                    break
        except OSError:
            self._release(held)
            held.close()
            return
        self._release(held)
        self._dispatch(held)

    def _dispatch(self, held: _Held) -> None:
        conn = held.conn
        conn.socket.settimeout(self.server.timeout)
        conn.raw.pending = bytes(held.head)
        if _is_health_check(held.head) and self.server.health_lane.offer(conn):
            return
        self.server.process_conn(conn)

    def _expire(self, now: float) -> None:
        for held in [held for held in self._held() if held.deadline <= now]:
            self._release(held)
            if held.head:  # a request had begun: say why it ends
                try:
                    held.sock.send(_TIMED_OUT)
                except OSError:
                    pass
            held.close()

    def _complete(self, head: bytearray, start: int = 0) -> bool:
        return bool(_HEAD_END.search(head, start)) or len(head) > self.max_held_head

    # --- the selector, shared with the workers ------------------------------------------------
    def _held(self) -> list[_Held]:
        with self._lock:
            if self._closed:
                return []
            return [key.data for key in self._selector.get_map().values() if key.data is not self.server]

    def _hold(self, held: _Held) -> None:
        with self._lock:
            if not self._closed:
                self._selector.register(held.sock.fileno(), held.events, held)
                return
        held.close()  # the server stopped while a worker finished this request

    def _watch(self, held: _Held, events: int) -> None:
        if events != held.events:
            held.events = events
            with self._lock:
                self._selector.modify(held.sock.fileno(), events, held)

    def _release(self, held: _Held) -> None:
        with self._lock:
            self._selector.unregister(held.sock.fileno())


def _is_health_check(head: bytearray) -> bool:
    """A GET or HEAD of the health check, without a body (nothing can keep its thread waiting)."""
    request_line, _, rest = bytes(head).partition(b"\r\n")
    headers, ended, _ = rest.partition(b"\r\n\r\n")
    parts = request_line.split(b" ")
    return (
        bool(ended)
        and len(parts) == 3
        and parts[0] in (b"GET", b"HEAD")
        and parts[1].split(b"?", 1)[0] == _HEALTH_TARGET
        and not _BODY_HEADER.search(headers)
    )


class HealthLane:
    """A thread of its own for the health check, so a load balancer hears from the node while
    every worker is busy (an upload holds one for as long as it keeps its pace)."""

    def __init__(self, server: GatedServer):
        self.server = server
        self._queue: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="davportal health", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def offer(self, conn) -> bool:
        if self._queue.qsize() >= _HEALTH_QUEUE:
            return False
        self._queue.put(conn)
        return True

    def stop(self) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()

    def _run(self) -> None:
        while (conn := self._queue.get()) is not None:
            keep = False
            try:
                keep = conn.communicate()
            except Exception:  # as cheroot's workers: one connection's trouble never ends the thread
                _logger.debug("Health check connection failed", exc_info=True)
            finally:
                if keep:
                    self.server.put_conn(conn)
                else:
                    conn.close()


class GatedServer(wsgi.Server):
    """cheroot's WSGI server with the Gate in place of its ConnectionManager, and a HealthLane."""

    ConnectionClass = GatedConnection
    _connections: Any  # cheroot's ConnectionManager, until prepare() puts the Gate in its place
    listener: socket.socket | None = None  # see open_listener

    def __init__(self, bind_addr, wsgi_app, limits: Limits, max_head_bytes: int, **server_args):
        super().__init__(bind_addr, wsgi_app, **server_args)
        self.limits = limits
        self.max_request_header_size = max_head_bytes
        self.health_lane = HealthLane(self)

    def open_listener(self) -> socket.socket:
        """Bind and listen now, once, for processes forked from this one that each serve the same
        socket (`davportal serve --workers`): each one's `prepare` then takes it as it is."""
        host, port = self.bind_addr
        problems = "No socket could be created"  # cheroot's own words, as when it binds in prepare()
        for family, kind, proto, _, address in socket.getaddrinfo(
            host, port, socket.AF_UNSPEC, socket.SOCK_STREAM, 0, socket.AI_PASSIVE
        ):
            # cheroot's own socket options (SO_REUSEADDR, TCP_NODELAY, dual-stack IPv6)
            sock = self.prepare_socket(self.bind_addr, family, kind, proto, self.nodelay, self.ssl_adapter,
                                       self.reuse_port)  # fmt: skip
            try:
                self.bind_socket(sock, self.bind_addr)
            except OSError as exc:
                problems += f" -- ({address}: {exc})"
                sock.close()
                continue
            sock.listen(self.request_queue_size)
            self.listener = sock
            self.bind_addr = self.resolve_real_bind_addr(sock)  # the port chosen for port 0
            return sock
        raise OSError(problems)

    def bind(self, family, type, proto=0):
        if self.listener is None:
            return super().bind(family, type, proto)
        # Bound and listening already (in the parent): the listen queue is shared by every worker.
        self.socket = self.listener
        self.bind_addr = self.resolve_real_bind_addr(self.listener)
        return self.listener

    def prepare(self) -> None:
        super().prepare()
        self._connections.close()  # cheroot's own, which holds nothing yet but the listening socket
        self._connections = Gate(self, self.limits, self.max_request_header_size)
        self.health_lane.start()

    def stop(self) -> None:
        super().stop()
        self.health_lane.stop()
