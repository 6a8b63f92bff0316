"""`davportal serve`: the WSGI app on cheroot, the multi-threaded server WsgiDAV itself uses."""

from __future__ import annotations

import logging
import re
import threading
from typing import Any

from cheroot import server, wsgi
from cheroot.server import get_ssl_adapter_class

from davportal.app import make_app, portal_of
from davportal.connections import GatedConnection, GatedServer, PacedRequest
from davportal.core.errors import ConfigError
from davportal.core.outages import Unreachable, cannot_use
from davportal.notifications.worker import Sender
from davportal.services.janitor import Janitor

_logger = logging.getLogger("davportal")


MAX_HEADER_BYTES = 64 * 1024  # request line and headers; cheroot's own default is unlimited
# Connections the kernel completes before the server accepts them; cheroot's 5 turns a burst of
# new connections (a browser, a drive, a flood) into one-second SYN retries for everyone else.
LISTEN_QUEUE = 128
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


def wsgi_server(bind_addr: tuple[str, int], app, **server_args) -> wsgi.Server:
    """cheroot, hardened: a worker is taken only by a complete request head (slow clients wait,
    and are timed out, in the selector thread), bodies keep a pace, and the health check has a
    thread of its own; the limits are the app's `davportal.limits`."""
    limits = portal_of(app).settings.limits
    server_args = {"request_queue_size": LISTEN_QUEUE, **server_args}
    http = GatedServer(bind_addr, app, limits, MAX_HEADER_BYTES, server_name="davportal", **server_args)
    http.gateway = ClosingGateway
    http.ConnectionClass = StrictConnection
    return http


def build_server(config: dict[str, Any], source: str = "config") -> wsgi.Server:
    if config.get("ssl_certificate") and (config.get("ssl_adapter") or "builtin") != "builtin":
        # The TLS handshake runs step by step in the selector thread, which needs Python's ssl.
        raise ConfigError(f"{source}: ssl_adapter must be builtin (or left out).")
    app = make_app(config, source)
    server_args = {"numthreads": 10, **(config.get("server_args") or {})}
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


def serve(config: dict[str, Any], source: str = "config", on_ready=None) -> None:
    server = build_server(config, source)
    try:
        server.prepare()  # binds now, so the URL printed is the one that answers
    except OSError as exc:  # cheroot words it "No socket could be created -- ((host, port): [Errno 98] …)"
        causes = re.findall(r"\[Errno -?\d+\] ([^)]+)", str(exc))
        cause = causes[-1] if causes else exc.strerror or str(exc)
        raise Unreachable(f"cannot listen on {base_url(config).split('://')[1].rstrip('/')} "
                          f"({cause[:1].lower() + cause[1:]})") from exc  # fmt: skip
    portal = portal_of(server.wsgi_app)
    janitor = Janitor(portal)
    janitor.start()
    sender = Sender(portal) if portal.settings.notifications.send_in_serve else None
    if sender:
        sender.start()
    if on_ready:
        on_ready(base_url(config, server))
    try:
        server.serve()
    except KeyboardInterrupt:
        _logger.info("Stopping.")
    finally:
        janitor.stop()
        if sender:
            sender.stop()
        server.stop()
