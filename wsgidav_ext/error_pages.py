"""Every refusal as a status and a plain-language reason; never an internal detail.

Replaces WsgiDAV's ErrorPrinter, which writes the exception's repr into the page.
"""

from __future__ import annotations

import logging
import secrets

from lxml import etree
from wsgidav import util
from wsgidav.dav_error import HTTP_NO_CONTENT, HTTP_NOT_MODIFIED, DAVError, get_http_status_string
from wsgidav.mw.base_mw import BaseMiddleware

from davportal.core.errors import PortalError
from davportal.core.outages import database_at, outage_of
from davportal.core.settings import Settings
from davportal.services.portal import Portal
from wsgidav_ext.guard import CACHE_CONTROL

_logger = logging.getLogger("davportal.errors")


class ErrorPages(BaseMiddleware):
    def __init__(self, wsgidav_app, next_app, config):
        super().__init__(wsgidav_app, next_app, config)
        self.portal = Portal.of(config)

    def __call__(self, environ, start_response):
        # WsgiDAV's handlers are generators: errors surface while iterating, so the response
        # is started only once the first chunk (or the error) is known.
        delayed = util.SubAppStartResponse()
        started = False
        try:
            app_iter = self.next_app(environ, delayed)
            try:
                for chunk in app_iter:
                    if not started:
                        start_response(delayed.status, delayed.response_headers, delayed.exc_info)
                        started = True
                    yield chunk
            finally:
                if hasattr(app_iter, "close"):
                    app_iter.close()
            if not started:
                start_response(delayed.status, delayed.response_headers, delayed.exc_info)
        except Exception as exc:  # noqa: BLE001 - this is the one place that answers for all
            if started:
                raise  # the status line is out: the server can only drop the connection
            status, headers, body = error_response(exc, environ, self.portal.settings)
            # A refused upload's body is not read: WsgiDAV then closes the connection instead
            # of draining megabytes it will throw away.
            environ.setdefault("wsgidav.some_input_read", 1)
            start_response(status, headers)
            if environ["REQUEST_METHOD"] != "HEAD":
                yield body


def error_response(exc: Exception, environ: dict, settings: Settings) -> tuple[str, list[tuple[str, str]], bytes]:
    if isinstance(exc, DAVError) and isinstance(exc.src_exception, PortalError):
        exc = exc.src_exception  # raised inside WsgiDAV's handlers and wrapped by them
    condition = None
    extra_headers: list[tuple[str, str]] = []
    if isinstance(exc, DAVError) and exc.value in (HTTP_NOT_MODIFIED, HTTP_NO_CONTENT):
        # Not refusals: answers without a body (a body here would be read as the next answer).
        headers = [("Content-Length", "0"), ("Date", util.get_rfc1123_time()), CACHE_CONTROL]
        resource = environ["wsgidav.provider"].get_resource_inst(environ["PATH_INFO"], environ)
        etag = resource.get_etag() if resource is not None and exc.value == HTTP_NOT_MODIFIED else None
        return get_http_status_string(exc), headers + ([("ETag", f'"{etag}"')] if etag else []), b""
    if isinstance(exc, PortalError) and exc.status != 500:
        status = f"{int(exc.status)} {exc.status.phrase}"
        reason = exc.reason
        condition = exc.condition
        extra_headers = list(exc.headers)
        if exc.detail:
            _logger.info("%s %s: %s (%s)", environ.get("REQUEST_METHOD"), environ.get("PATH_INFO"),
                         reason, exc.detail)  # fmt: skip
    elif isinstance(exc, DAVError) and exc.value < 500:
        status = get_http_status_string(exc)
        reason = str(exc.context_info) if exc.context_info else status.split(" ", 1)[1] + "."
        if exc.value == 404:
            reason = "Not found."  # word for word what a hidden target gets: no oracle
        extra_headers = list(exc.add_headers or [])
        if exc.err_condition:
            body = exc.err_condition.as_string().encode()
            return status, _headers("application/xml; charset=utf-8", body) + extra_headers, body
    elif (outage := outage_of(exc)) is not None:
        # The database is down or too slow: the client may retry; the log says where, in one line.
        where = database_at(settings.database_url)
        _logger.warning("%s %s answered 503: %s", environ.get("REQUEST_METHOD"), environ.get("PATH_INFO"),
                        outage.line(where))  # fmt: skip
        unavailable = outage.error(where)
        status = "503 Service Unavailable"
        reason = unavailable.reason
        extra_headers = list(unavailable.headers)
    else:
        reference = secrets.token_hex(4).upper()
        _logger.error("Unexpected error, reference %s, on %s %s", reference,
                      environ.get("REQUEST_METHOD"), environ.get("PATH_INFO"), exc_info=exc)  # fmt: skip
        status = "500 Internal Server Error"
        reason = (
            f"Something went wrong on the server (reference {reference}). Nothing was changed "
            "if the request did not finish; the administrator can find the details in the log."
        )
    if condition:
        root = etree.Element("{DAV:}error", nsmap={"D": "DAV:"})
        etree.SubElement(root, f"{{DAV:}}{condition}")
        etree.SubElement(root, "{DAV:}responsedescription").text = reason
        body = etree.tostring(root, xml_declaration=True, encoding="utf-8")
        return status, _headers("application/xml; charset=utf-8", body), body
    if status.startswith("401"):
        extra_headers.append(("WWW-Authenticate", f'Basic realm="{settings.auth.realm}"'))
    body = (reason + "\n").encode("utf-8")
    return status, _headers("text/plain; charset=utf-8", body) + extra_headers, body


def _headers(content_type: str, body: bytes) -> list[tuple[str, str]]:
    return [
        ("Content-Type", content_type),
        ("Content-Length", str(len(body))),
        ("Date", util.get_rfc1123_time()),
    ]
