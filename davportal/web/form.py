"""Reading what a page sent: its query, its form (bounded), its CSRF token, where to go after."""

from __future__ import annotations

import secrets
from email.parser import BytesParser
from email.policy import HTTP
from urllib.parse import parse_qs

from davportal.core.errors import BadRequest, NotAllowed, TooLarge
from policy.names import human_size

MAX_FORM_BYTES = 64 * 1024
OUT_OF_DATE = "This page is out of date: reload it and try again."


def query(environ) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}


def read(environ) -> dict[str, str]:
    """A url-encoded form, at most MAX_FORM_BYTES of it."""
    return {k: v[0] for k, v in read_lists(environ).items()}


def read_lists(environ) -> dict[str, list[str]]:
    """A url-encoded form with every value of a field sent more than once (boxes ticked), at most
    MAX_FORM_BYTES of it."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    body = environ["wsgi.input"].read(min(length, MAX_FORM_BYTES)) if length else b""
    environ["wsgidav.all_input_read"] = 1
    return parse_qs(body.decode("utf-8", "replace"))


def token_ok(given: str | None, expected: str | None) -> bool:
    """A form's (or a header's) CSRF token is the one expected: in constant time, never for an empty one."""
    if not given or not expected:
        return False
    return secrets.compare_digest(given.encode("utf-8", "replace"), expected.encode("utf-8", "replace"))


def require_token(given: str | None, expected: str) -> None:
    if not token_ok(given, expected):
        raise NotAllowed(OUT_OF_DATE)


def local(path: str | None) -> str:
    """Where to go after a form: a path on this server, never another (//host, /\\host), else "/"."""
    if not path or not path.startswith("/") or path.startswith(("//", "/\\")):
        return "/"
    return path


def read_multipart(environ, limit: int) -> tuple[dict[str, str], dict[str, tuple[str, bytes]]]:
    """A multipart/form-data body of at most `limit` bytes: its fields, and its files by field
    (file name, content). A larger body is refused before any of it is read."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > limit:
        raise TooLarge(f"The file is too large: at most {human_size(limit)} can be sent at once.")
    content_type = environ.get("CONTENT_TYPE", "")
    if not content_type.startswith("multipart/form-data"):
        raise BadRequest("The form was not sent as expected: reload the page and try again.")
    body = environ["wsgi.input"].read(length) if length else b""
    environ["wsgidav.all_input_read"] = 1
    message = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode("latin-1") + body)
    fields: dict[str, str] = {}
    files: dict[str, tuple[str, bytes]] = {}
    for part in message.iter_parts() if message.is_multipart() else ():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        content = payload if isinstance(payload, bytes) else b""
        filename = part.get_filename()
        if filename is not None:
            files[name] = (filename, content)
        else:
            fields[name] = content.decode("utf-8", "replace")
    return fields, files
