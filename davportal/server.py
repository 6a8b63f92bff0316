"""`davportal serve`: the WSGI app on cheroot, the multi-threaded server WsgiDAV itself uses."""

from __future__ import annotations

import logging
import re
import signal
import threading
from typing import Any

from cheroot import server, wsgi
from cheroot.server import get_ssl_adapter_class

from davportal.app import make_app, portal_of
from davportal.connections import GatedConnection, GatedServer, PacedRequest
from davportal.core.errors import ConfigError
from davportal.core.outages import Unreachable, cannot_use
from davportal.services.housekeeping import Housekeeping
from davportal.workers import Supervisor

_logger = logging.getLogger("davportal")


MAX_HEADER_BYTES = 64 * 1024  # request line and headers; cheroot's own default is unlimited
SINGLE_HEADERS = (b"Content-Length", b"Transfer-Encoding")
_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,15}")


class StrictHeaderReader(server.HeaderReader):
    """Refuses a request that repeats Content-Length or Transfer-Encoding (cheroot keeps the last
    one silently): two parties could read its length differently (smuggling, CWE-444)."""

    _counts = threading.local()

    def __call__(self, rfile, hdict=None):
        self._counts.seen = {}
        headers = super().__call__(rfile, hdict)
        if any(count > 1 for count in self._counts.seen.values()):
            raise ValueError("Repeated Content-Length or Transfer-Encoding.")  # cheroot answers 400 and closes
        return headers

    def _allow_header(self, key_name):
        if key_name in SINGLE_HEADERS:
            self._counts.seen[key_name] = self._counts.seen.get(key_name, 0) + 1
        return True


class _ChunkSizeLines:
    """The chunk-size lines of a chunked body, held to the grammar (hex digits only: no sign, no
    "0x", no spaces), where cheroot would take anything Python's int() takes."""

    def __init__(self, rfile):
        self._rfile = rfile

    def readline(self, *args):
        line = self._rfile.readline(*args)
        if not _CHUNK_SIZE.fullmatch(line.rstrip(b"\r\n").split(b";", 1)[0]):
            raise ValueError("Bad chunk size in a chunked body.")
        return line

    def __getattr__(self, name):
        return getattr(self._rfile, name)


class StrictChunkedRFile(server.ChunkedRFile):
    def __init__(self, rfile, maxlen, bufsize=8192):
        super().__init__(_ChunkSizeLines(rfile), maxlen, bufsize)


class StrictRequest(PacedRequest):
    header_reader = StrictHeaderReader()


class StrictConnection(GatedConnection):
    RequestHandlerClass = StrictRequest


# cheroot builds the chunked reader by this module-level name.
server.ChunkedRFile = StrictChunkedRFile  # type: ignore[misc]  # cheroot's stubs take the class as fixed


class ClosingGateway(wsgi.Gateway_10):
    """cheroot ignores an app's "Connection: close"; honoured here, so that nothing after a refused,
    ambiguous request (smuggling, CWE-444) is ever read from that connection as a request."""

    def start_response(self, status, headers, exc_info=None):
        write = super().start_response(status, headers, exc_info)
        if any(k.lower() == "connection" and v.strip().lower() == "close" for k, v in headers):
            self.req.close_connection = True
        return write


def wsgi_server(bind_addr: tuple[str, int], app, **server_args) -> GatedServer:
    """cheroot, hardened: a worker is taken only by a complete request head (slow clients wait,
    and are timed out, in the selector thread), bodies keep a pace, and the health check has a
    thread of its own; the limits are the app's `davportal.limits`."""
    limits = portal_of(app).settings.limits
    # The listen queue: cheroot's own 5 turns a burst of new connections (a browser, a drive, a
    # flood) into one-second SYN retries for everyone else.
    server_args = {**server_args, "request_queue_size": limits.listen_backlog}
    http = GatedServer(bind_addr, app, limits, MAX_HEADER_BYTES, server_name="davportal", **server_args)
    http.gateway = ClosingGateway
    http.ConnectionClass = StrictConnection
    return http


def build_server(config: dict[str, Any], source: str = "config") -> GatedServer:
    if config.get("ssl_certificate") and (config.get("ssl_adapter") or "builtin") != "builtin":
        # The TLS handshake runs step by step in the selector thread, which needs Python's ssl.
        raise ConfigError(f"{source}: ssl_adapter must be builtin (or left out).")
    server_args = {"numthreads": 10, **(config.get("server_args") or {})}
    if "request_queue_size" in server_args:
        raise ConfigError(f"{source}: server_args.request_queue_size: set davportal.limits.listen_backlog instead.")
    app = make_app(config, source)
    server = wsgi_server((config["host"], int(config["port"])), app, **server_args)
    if config.get("ssl_certificate"):
        adapter = get_ssl_adapter_class("builtin")
        try:
            server.ssl_adapter = adapter(
                config["ssl_certificate"], config["ssl_private_key"], config.get("ssl_certificate_chain")
            )
        except OSError as exc:  # ssl.SSLError included
            raise cannot_use("the TLS certificate", config["ssl_certificate"], exc) from exc
    return server


def base_url(config: dict[str, Any], server: wsgi.Server | None = None) -> str:
    host, port = server.bind_addr[:2] if server else (config["host"], config["port"])
    scheme = "https" if config.get("ssl_certificate") else "http"
    host = f"[{host}]" if ":" in host else host
    return f"{scheme}://{host}:{port}/"


def serve(config: dict[str, Any], source: str = "config", on_ready=None, *, workers: int = 1) -> None:
    """Serve until stopped: in this process, or (`workers` > 1) in that many forked from it."""
    server = build_server(config, source)
    try:
        if workers > 1:
            server.open_listener()  # binds now, once for every worker, so the URL printed is the one that answers
        else:
            server.prepare()  # binds now, so the URL printed is the one that answers
    except OSError as exc:  # cheroot words it "No socket could be created -- ((host, port): [Errno 98] …)"
        causes = re.findall(r"\[Errno -?\d+\] ([^)]+)", str(exc))
        cause = causes[-1] if causes else exc.strerror or str(exc)
        raise Unreachable(f"cannot listen on {base_url(config).split('://')[1].rstrip('/')} "
                          f"({cause[:1].lower() + cause[1:]})") from exc  # fmt: skip
    if workers > 1:
        # The workers open database connections of their own; none is shared across a fork.
        portal_of(server.wsgi_app).engine.dispose()
        ready = (lambda: on_ready(base_url(config, server))) if on_ready else None
        Supervisor(workers, lambda: serve_here(server)).run(on_ready=ready)
        return
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _stop_as_on_ctrl_c)  # systemd's stop, say: finish the requests in hand
    if on_ready:
        on_ready(base_url(config, server))
    serve_here(server, prepared=True)


def _stop_as_on_ctrl_c(signum, frame) -> None:
    raise KeyboardInterrupt


def serve_here(server: wsgi.Server, *, prepared: bool = False) -> None:
    """Serve in this process until interrupted, competing for the node's housekeeping."""
    if not prepared:
        server.prepare()
    housekeeping = Housekeeping(portal_of(server.wsgi_app))
    housekeeping.start()
    try:
        server.serve()
    except KeyboardInterrupt:
        _logger.info("Stopping.")
    finally:
        housekeeping.stop()
        server.stop()
