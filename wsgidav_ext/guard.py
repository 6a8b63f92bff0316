"""Request sanity before anyone is authenticated: paths, headers and XML bodies; and the caching
every answer allows.

WsgiDAV reads XML bodies whole, with no cap, treats chunked ones as empty, and believes a
client's X-Forwarded-Host; this middleware hands it bodies that are capped, complete and parsed
safely once, and a request with nothing a client may not claim.
"""

from __future__ import annotations

import base64
import binascii
import io
import ipaddress
from http import HTTPStatus
from urllib.parse import unquote

from lxml import etree
from wsgidav.mw.base_mw import BaseMiddleware

from davportal.core.errors import BadRequest, TooLarge, Unauthorized
from davportal.core.paths import has_control_characters
from davportal.services.portal import Portal
from policy.names import normalize
from wsgidav_ext import hotfixes  # noqa: F401 - applied on import

XML_METHODS = frozenset({"PROPFIND", "PROPPATCH", "LOCK"})
MAX_URI_BYTES = 3000  # well under the storage's 4,096-byte path limit, with the storage root before it


class UriTooLong(BadRequest):
    status = HTTPStatus.REQUEST_URI_TOO_LONG


# What every answer may be cached as, unless it says otherwise (the pages say no-store, the
# stylesheet and script may be kept an hour). "private": no proxy or shared cache may keep a
# client's document. "no-cache" rather than "no-store": the reader's own client may keep a copy
# but must ask again, with its ETag, before every use, so a changed file or a withdrawn access
# shows at once while Office, Finder and rclone get "not modified" instead of the whole file
# again. "no-store" would protect nothing more: a downloaded document is on the reader's disk
# anyway, and desktop WebDAV clients keep their own copies of what they open.
CACHE_CONTROL = ("Cache-Control", "private, no-cache")
FORWARDED_HEADERS = ("HTTP_X_FORWARDED_HOST", "HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_FOR")


def _safe_parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, dtd_validation=False
    )


class RequestGuard(BaseMiddleware):
    def __init__(self, wsgidav_app, next_app, config):
        super().__init__(wsgidav_app, next_app, config)
        self.portal = Portal.of(config)

    def __call__(self, environ, start_response):
        check_framing(environ)
        if environ.get("HTTP_TRANSFER_ENCODING"):
            environ["wsgi.input"] = ChunkedInput(environ["wsgi.input"])
        apply_forwarded_headers(environ, self.portal.settings.trusted_proxies)
        check_raw_path(environ)
        if environ["REQUEST_METHOD"] == "OPTIONS":
            # cheroot hands OPTIONS paths over still percent-encoded (other methods decoded).
            environ["PATH_INFO"] = unquote(environ["PATH_INFO"])
        environ["PATH_INFO"] = normalize(environ["PATH_INFO"])
        check_basic_header(environ)
        if environ["REQUEST_METHOD"] in XML_METHODS:
            read_xml_body(environ, self.portal.settings.limits.xml_body_bytes)
        return self.next_app(environ, with_cache_control(start_response))


def with_cache_control(start_response):
    """Every answer that comes back this way (documents, listings, pages, redirects) says how it
    may be cached. A refusal is raised below and answered by ErrorPages: it holds a reason, never
    a document."""

    def start(status, headers, exc_info=None):
        if not any(name.lower() == "cache-control" for name, _ in headers):
            headers = [*headers, CACHE_CONTROL]
        return start_response(status, headers, exc_info)

    return start


CLOSE = (("Connection", "close"),)


def check_framing(environ: dict) -> None:
    """A body whose length two parties could read differently is refused, and the connection closed.

    Content-Length with Transfer-Encoding, a Transfer-Encoding other than exactly "chunked", or a
    Content-Length that is not plain digits (repeated headers arrive joined by commas) is how a
    request is smuggled past a proxy (CWE-444): nothing after it on the connection is read.
    """
    length = environ.get("CONTENT_LENGTH", "")
    coding = environ.get("HTTP_TRANSFER_ENCODING")
    if length and not length.isdigit() or length.strip() != length:
        raise BadRequest("The Content-Length header is not a plain number.", headers=CLOSE)
    if coding is not None and (length or coding.strip().lower() != "chunked"):
        raise BadRequest("The request's length is ambiguous (Transfer-Encoding).", headers=CLOSE)


class ChunkedInput:
    """A chunked body that turns out malformed is the client's error (400, connection closed),
    not the server's (500)."""

    def __init__(self, raw):
        self._raw = raw

    def read(self, *args):
        try:
            return self._raw.read(*args)
        except (ValueError, OSError) as exc:
            raise BadRequest("The request body is not well-formed (chunked transfer coding).",
                             detail=str(exc), headers=CLOSE) from None  # fmt: skip

    def __getattr__(self, name):
        return getattr(self._raw, name)


def apply_forwarded_headers(environ: dict, trusted_proxies) -> None:
    """Believe X-Forwarded-* only from a configured proxy; from anyone else, drop them.

    Behind a TLS-terminating proxy the original scheme and host decide whether a COPY/MOVE
    Destination is on this server; the original client address goes to the log and the throttle.
    """
    forwarded = {header: environ.pop(header, "").strip() for header in FORWARDED_HEADERS}
    if not trusted_proxies:
        return
    try:
        peer = ipaddress.ip_address(environ.get("REMOTE_ADDR", ""))
    except ValueError:
        return
    if not any(peer in network for network in trusted_proxies):
        return
    if forwarded["HTTP_X_FORWARDED_PROTO"].lower() in ("http", "https"):
        environ["wsgi.url_scheme"] = forwarded["HTTP_X_FORWARDED_PROTO"].lower()
    if forwarded["HTTP_X_FORWARDED_HOST"]:
        environ["HTTP_HOST"] = forwarded["HTTP_X_FORWARDED_HOST"].split(",")[0].strip()
    if forwarded["HTTP_X_FORWARDED_FOR"]:
        environ["REMOTE_ADDR"] = forwarded["HTTP_X_FORWARDED_FOR"].split(",")[-1].strip()


def check_raw_path(environ: dict) -> None:
    """Refuse `..` and control characters in the path as sent, before any normalisation."""
    raw = environ.get("REQUEST_URI") or environ.get("RAW_URI") or environ.get("PATH_INFO", "")
    if len(raw) > MAX_URI_BYTES:
        raise UriTooLong(f"The address is longer than {MAX_URI_BYTES:,} characters.")
    try:
        path = unquote(raw.split("?", 1)[0], errors="strict")
    except UnicodeDecodeError:
        raise BadRequest("Paths must be UTF-8 (as every WebDAV client sends them).") from None
    segments = path.replace("\\", "/").split("/")
    if ".." in segments:
        raise BadRequest("Paths may not contain '..'.")
    if has_control_characters(path):
        raise BadRequest("Paths may not contain control characters.")


def check_basic_header(environ: dict) -> None:
    """WsgiDAV's own parsing fails with a 500 on a malformed header: refuse it as a 401 instead."""
    scheme, _, credentials = environ.get("HTTP_AUTHORIZATION", "").strip().partition(" ")
    if scheme.lower() != "basic":
        return
    try:
        decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        decoded = ""
    if ":" not in decoded:
        raise Unauthorized("The login could not be read. Please sign in again.")


def read_xml_body(environ: dict, limit: int) -> None:
    """Read the body (chunked or not) up to `limit`, parse it safely, and hand WsgiDAV the bytes."""
    declared = environ.get("CONTENT_LENGTH", "").strip()
    chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
    if declared:
        try:
            length = int(declared)
        except ValueError:
            raise BadRequest("The Content-Length header is not a number.") from None
        if length > limit:
            raise TooLarge(f"The XML request body is larger than {limit:,} bytes.")
        body = environ["wsgi.input"].read(length) if length else b""
    elif chunked:
        body = environ["wsgi.input"].read(limit + 1)
        if len(body) > limit:
            raise TooLarge(f"The XML request body is larger than {limit:,} bytes.")
    else:
        body = b""
    environ["wsgidav.all_input_read"] = 1
    if body.strip():
        try:
            root = etree.fromstring(body, parser=_safe_parser())
        except etree.XMLSyntaxError:
            raise BadRequest("The request body is not well-formed XML.") from None
        if root.getroottree().docinfo.doctype:
            raise BadRequest("XML request bodies with a DOCTYPE are not accepted.")
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    environ.pop("HTTP_TRANSFER_ENCODING", None)
